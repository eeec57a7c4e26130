# The paper's model: OpenFlamingo-9B (CLIP ViT-L/14 + perceiver, 64 latents + LLaMA-7B with
# gated cross-attention before every 4th of its 32 layers = 8 blocks), frozen, with LoRA
# r=16, alpha=16, dropout 0 on self-attention (q/k/v/o_proj), gated cross-attention
# (to_q, to_kv, to_out) and its feed-forward (ff.1, ff.3). Weights from local disk only:
#   checkpoints/llama-7b_hf/                  LLaMA-7B in Hugging Face format + tokenizer
#   checkpoints/clip-vit-large-patch14.pt     OpenAI CLIP ViT-L/14 (open_clip 'openai' file)
#   checkpoints/OpenFlamingo-9B/checkpoint.pt perceiver + gated cross-attn + embeddings
# (docs/install.md says where to get each.)
#
# The model declares what the data must match, once: its `vision_encoder` (image size and
# normalisation), `tokenizer` (and so the collate pad id: 32002 = LLaMA's 32000 +
# <|endofchunk|>, <image>, then <PAD>) and `template`. The training pipeline, the chat
# engine, the chat hook and evaluation read them from here (mmgpt/datasets/model_inputs.py).
model = dict(
    type='MultiModalGPT',
    vision_encoder=dict(
        name='ViT-L-14',
        pretrained='checkpoints/clip-vit-large-patch14.pt',
        model_cfg=None,
        quick_gelu=True,  # the OpenAI weights were trained with QuickGELU
    ),
    lang_model=dict(path='checkpoints/llama-7b_hf'),
    # historical=True: the exact 2023 LLaMA encoding the OpenFlamingo-9B and MultiModal-GPT
    # weights were trained with (docs/template.md, 'Which encoding').
    tokenizer=dict(type='pretrained', path='checkpoints/llama-7b_hf', historical=True),
    template='mmgpt',  # the unified instruction template (docs/template.md)
    cross_attn_every_n_layers=4,
    cross_attn=None,  # open_flamingo's defaults: 8 heads x 64, ff_mult 4
    perceiver=None,  # open_flamingo's defaults: depth 6, 8 heads x 64, 64 latents
    cross_attn_gate_init=0.0,  # overwritten by the OpenFlamingo checkpoint
    pretrained='checkpoints/OpenFlamingo-9B/checkpoint.pt',
    # target_modules: left out = the paper's targets, defined once in mmgpt/models/lora.py
    # (PAPER_LORA_TARGETS: q/k/v/o_proj, to_q, to_kv, to_out, ff.1, ff.3); set it to
    # adapt other layers.
    lora=dict(r=16, alpha=16, dropout=0.0),
    freeze=True,
    unfrozen=[],
    gradient_checkpointing=False,
)
