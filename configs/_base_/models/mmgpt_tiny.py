# A tiny MultiModal-GPT: the paper's model (mmgpt_openflamingo9b_lora.py) with sizes and
# paths overridden, random init, that builds in seconds on a CPU: CLIP ViT (32 px, patch 8
# -> 16 patch tokens of width 32) + perceiver (8 latents) + LLaMA (hidden 64, 4 layers)
# with a gated cross-attention block before every 4th layer, frozen, LoRA r=16 on the
# paper's targets, the same template. Everything not below is inherited.
_base_ = ['./mmgpt_openflamingo9b_lora.py']

model = dict(
    vision_encoder=dict(
        name='mmgpt-tiny-vit',
        pretrained=None,
        model_cfg=dict(  # _delete_: replaces the base's None (open_clip's own ViT-L-14 config)
            _delete_=True,
            embed_dim=32,
            vision_cfg=dict(image_size=32, layers=2, width=32, patch_size=8, head_width=16),
            text_cfg=dict(context_length=8, vocab_size=16, width=16, heads=1, layers=1)),
    ),
    lang_model=dict(
        _delete_=True,
        config=dict(
            model_type='llama', hidden_size=64, intermediate_size=128, num_hidden_layers=4,
            num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024,
            vocab_size=515)),
    # a BPE trained on mmgpt/assets/tiny_corpus.txt: 512 + <|endofchunk|>, <image>, <PAD>
    tokenizer=dict(_delete_=True, type='tiny_bpe', vocab_size=512),
    cross_attn=dict(_delete_=True, heads=4, dim_head=16, ff_mult=2),
    perceiver=dict(_delete_=True, depth=1, heads=2, dim_head=16, num_latents=8, ff_mult=2),
    pretrained=None,
)
