# Demo stage 1: grow a tiny OpenFlamingo on the shapes world's image-text documents, the
# way OpenFlamingo was pretrained before MultiModal-GPT tuned it: the CLIP tower (stage 0)
# frozen, the perceiver, the gated cross-attention and the language model trainable (the
# LM too, as it starts from random weights here instead of LLaMA), no LoRA, OpenFlamingo's
# plain `<image>text<|endofchunk|>` form.
#   python tools/train.py configs/demo/stage1_openflamingo_pretrain.py
# (tools/demo.py runs it after writing the data to work_dirs/demo/data and stage 0.)
_base_ = [
    '../_base_/models/mmgpt_tiny_shapes.py',
    '../_base_/datasets/mmgpt_joint_data.py',
    '../_base_/schedules/mmgpt_1epoch.py',
    '../_base_/default_runtime.py',
    '../_base_/datasets/shapes_world.py',
]
work_dir = 'work_dirs/demo/stage1'

model = dict(
    # OpenFlamingo's frozen CLIP; checkpoints and the exported Flamingo file leave it out
    # (as OpenFlamingo's checkpoint.pt does), so stage 2 loads it from here as well.
    vision_encoder=dict(pretrained='work_dirs/demo/stage0/clip_tiny.safetensors'),
    lora=None,
    freeze=True,
    unfrozen=(r'^flamingo\.(perceiver|lang_encoder)\.',),
    cross_attn_gate_init=1.0,  # a random LM has nothing to protect: open the gates
    # OpenFlamingo's plain interleaved form: the pipeline (and a chat with this model)
    # uses it; stage 2 is tuned in the default 'mmgpt' instruction template.
    template='openflamingo_interleaved',
)

# Pretraining text, as OpenFlamingo's: image-grounded text in the plain form (the
# captions, and the LLaVA-style questions and answers as interleaved documents
# `<image>question\nanswer<|endofchunk|>`, template `openflamingo_interleaved`) plus
# language-only text (the Dolly-style tasks), 24 + 8 per iteration. 11,021 image-text
# documents / 24 = 460 iterations per epoch x 4 = 1,840.
train_dataloader = dict(
    batch_size=32,
    num_workers=0, persistent_workers=False, pin_memory=False,
    sampler=dict(type='JointSampler', vl_per_iter=24, lang_per_iter=8),
    dataset=dict(
        type='JointDataset',
        data_root=_base_.shapes_root,  # the demo's data folder, for every entry below
        vl=[_base_.shapes_captions, _base_.shapes_detail, _base_.shapes_qa,
            _base_.shapes_dialog],
        lang=[_base_.shapes_dolly],
        pipeline=[
            dict(type='LoadConversationImage'),
            dict(type='TokenizeConversation', max_length=64),
            dict(type='PackInputs'),
        ]))

# AdamW 3e-3 (from scratch), no accumulation, 50-iteration warm-up then cosine.
optim_wrapper = dict(
    accumulative_counts=1,
    optimizer=dict(lr=3e-3, weight_decay=0.0),
    paramwise_cfg=dict(decay_patterns=[]),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=0, end=4,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=4)
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(interval=1000, max_keep_ckpts=1, save_last=True),
)
custom_hooks = [
    dict(type='TokenThroughputHook'),
    # the trained weights, read by the next stage / the chat tool and the evaluation
    dict(type='ExportWeightsHook', filename='openflamingo_tiny.safetensors'),
]
