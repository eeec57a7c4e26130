# The tiny model sized for the embedded demo's synthetic "shapes world" (48 px images):
# CLIP ViT (48 px, patch 8 -> 36 patch tokens of width 64, 2 layers) + perceiver (16
# latents) + LLaMA (hidden 128, 4 layers) with a gated cross-attention block before every
# 2nd layer. Large enough to learn to read 3-letter words and count shapes in a few CPU
# minutes, small enough to train on 2 cores. The paper's model with sizes overridden
# (through mmgpt_tiny.py: tokenizer, LoRA, template and the rest are inherited).
_base_ = ['./mmgpt_tiny.py']

model = dict(
    vision_encoder=dict(
        name='mmgpt-tiny-vit-48',
        model_cfg=dict(
            embed_dim=64,
            vision_cfg=dict(image_size=48, layers=2, width=64, patch_size=8, head_width=32),
            # The text tower is used only by the demo's CLIP pretraining (stage 0); it
            # reads captions with the tiny BPE (515 tokens with the Flamingo tokens, EOS = 1).
            text_cfg=dict(context_length=24, vocab_size=515, width=64, heads=2, layers=2,
                          pool_type='eos', eos_id=1)),
    ),
    lang_model=dict(config=dict(hidden_size=128, intermediate_size=256, num_hidden_layers=4,
                                num_attention_heads=4, num_key_value_heads=4,
                                max_position_embeddings=512)),
    cross_attn_every_n_layers=2,
    cross_attn=dict(heads=4, dim_head=32, ff_mult=2),
    perceiver=dict(depth=1, heads=4, dim_head=32, num_latents=16, ff_mult=2),
)
