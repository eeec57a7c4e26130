# A tiny MultiModal-GPT of the paper's structure, random init, that builds in seconds on a
# CPU: CLIP ViT (32 px, patch 8 -> 16 patch tokens of width 32) + perceiver (8 latents) +
# LLaMA (hidden 64, 4 layers) with a gated cross-attention block before every 4th layer,
# frozen, LoRA r=16 on the paper's targets. Differs from mmgpt_openflamingo9b_lora.py only
# in sizes and paths (tests/test_models/test_configs.py checks this).
vision_encoder = dict(
    name='mmgpt-tiny-vit',
    pretrained=None,
    model_cfg=dict(
        embed_dim=32,
        vision_cfg=dict(image_size=32, layers=2, width=32, patch_size=8, head_width=16),
        text_cfg=dict(context_length=8, vocab_size=16, width=16, heads=1, layers=1)),
    quick_gelu=True,  # as the OpenAI CLIP of the paper's model
)
tokenizer = dict(type='tiny_bpe', vocab_size=512)
model = dict(
    type='MultiModalGPT',
    vision_encoder=vision_encoder,
    lang_model=dict(
        config=dict(
            model_type='llama', hidden_size=64, intermediate_size=128, num_hidden_layers=4,
            num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024,
            vocab_size=515)),
    tokenizer=tokenizer,
    cross_attn_every_n_layers=4,
    cross_attn=dict(heads=4, dim_head=16, ff_mult=2),
    perceiver=dict(depth=1, heads=2, dim_head=16, num_latents=8, ff_mult=2),
    cross_attn_gate_init=0.0,
    pretrained=None,
    lora=dict(r=16, alpha=16, dropout=0.0,
              target_modules=['q_proj', 'k_proj', 'v_proj', 'o_proj', 'to_q', 'to_kv', 'to_out',
                              'ff.1', 'ff.3']),
    freeze=True,
    unfrozen=[],
    gradient_checkpointing=False,
)
