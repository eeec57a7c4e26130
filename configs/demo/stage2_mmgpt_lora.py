# Demo stage 2: MultiModal-GPT itself on the shapes world. The stage-1 model is the
# pretrained OpenFlamingo (its CLIP tower from stage 0): loaded strictly, frozen, LoRA
# r=16 on the paper's targets (self-attention, gated cross-attention, its feed-forward),
# trained jointly on vision-language (LLaVA-style detail / QA / multi-turn) and
# language-only (Dolly-style) instructions in the one template, with gradient
# accumulation 16 and a cosine schedule.
#   python tools/train.py configs/demo/stage2_mmgpt_lora.py
# (tools/demo.py runs it after stage 1, whose ExportWeightsHook wrote `pretrained`.)
_base_ = [
    '../_base_/models/mmgpt_tiny_shapes.py',
    '../_base_/datasets/mmgpt_joint_data.py',
    '../_base_/schedules/mmgpt_1epoch.py',
    '../_base_/default_runtime.py',
    '../_base_/datasets/shapes_world.py',
]
work_dir = 'work_dirs/demo/stage2'

model = dict(
    pretrained='work_dirs/demo/stage1/openflamingo_tiny.safetensors',
    vision_encoder=dict(pretrained='work_dirs/demo/stage0/clip_tiny.safetensors'),
)

# Each iteration: 4 vision-language + 4 language-only samples (the paper's 1:1, as if
# on 4 GPUs); 16 accumulated iterations = 128 samples per update. As the paper samples
# its larger sets (A-OKVQA 5,000, COCO 512, ...), a seeded half of each LLaVA-style file:
# one epoch over 1,000 + 2,500 + 1,000 = 4,500 conversations = 1,125 iterations = 70
# updates (the loss is flat after about 40). cc_sbu_align captions are left out: they
# would teach "describe the image" to answer in caption form.
train_dataloader = dict(
    batch_size=8,
    num_workers=0, persistent_workers=False, pin_memory=False,
    sampler=dict(type='JointSampler', vl_per_iter=4, lang_per_iter=4),
    dataset=dict(
        type='JointDataset',
        data_root=_base_.shapes_root,  # the demo's data folder, for every entry below
        vl=[dict(_base_.shapes_detail, sample=1000), dict(_base_.shapes_qa, sample=2500),
            dict(_base_.shapes_dialog, sample=1000)],
        lang=[_base_.shapes_dolly],
        pipeline=[
            dict(type='LoadConversationImage'),
            dict(type='TokenizeConversation', max_length=256),
            dict(type='PackInputs'),
        ]))

# The paper's schedule shape (AdamW, accumulation 16, clip 1.0 per update, warm-up then
# cosine over one epoch) with a learning rate for 70 updates of a tiny model instead of
# ~1,300 of a 7B one: 5e-3, warm-up 5 updates = 80 iterations.
optim_wrapper = dict(optimizer=dict(lr=5e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=80),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
]
default_hooks = dict(
    logger=dict(interval=160),
    checkpoint=dict(interval=800, max_keep_ckpts=1, save_last=True),
)
custom_hooks = [
    dict(type='TokenThroughputHook'),
    # the trained weights, read by the next stage / the chat tool and the evaluation
    dict(type='ExportWeightsHook', filename='mmgpt_lora.safetensors'),
]
