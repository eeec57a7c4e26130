# The MultiModal-GPT release (open-mmlab/Multimodal-GPT, v0): its LoRA checkpoint
# `mmgpt-lora-v0-release.pt` on OpenFlamingo-9B v1 (CLIP ViT-L/14 'openai' + LLaMA-7B,
# gated cross-attention before every 4th of the 32 layers). Chat with it:
#   python tools/chat.py configs/mmgpt_release_v0.py checkpoints/mmgpt-lora-v0-release.pt
# The release's file is recognised and imported strictly (mmgpt/models/release.py): its
# `module.lang_encoder.base_model.model.*` peft names become this project's, each LoRA
# weight must be there, and its pickled MMEngine config is read as data, never run.
# Base weights under checkpoints/ as for the paper's model (docs/install.md).
_base_ = ['_base_/models/mmgpt_openflamingo9b_lora.py']

model = dict(
    pretrained='checkpoints/OpenFlamingo-9B/checkpoint.pt',  # the v1 9B release
    cross_attn_every_n_layers=4,
    # The release's tuning_config (open-mmlab/Multimodal-GPT/configs/lora_config.py),
    # checked against the checkpoint's own copy when it is imported: LoRA r 16,
    # alpha 16, dropout 0 on the
    # paper's targets (self-attention, gated cross-attention and its feed-forward:
    # PAPER_LORA_TARGETS in mmgpt/models/lora.py); nothing unfrozen. The base model
    # config already says exactly this; it is repeated here as a check, not restated.
    lora=dict(r=16, alpha=16, dropout=0.0),
    unfrozen=[],
    # Which image text attends to. 'preceding' (default): this project's rule, text after
    # <image> attends to it, also while generating with the KV cache. 'following': the
    # release's own numerics (open_flamingo v1, attend_previous=False): only text before
    # the image and the <image> token see it; the question and the answer do not.
    # To reproduce the release's answers use configs/mmgpt_release_v0_faithful.py
    # ('following' and the release's chat prompt), see docs/export.md.
    media_attention='preceding',
)
