# The recipe of configs/mmgpt_joint.py with the tiny model (random init, no download), for
# CPU tests and smoke runs. It reads the same data/ tree as the paper's config; write a
# miniature of that tree first (the tests do the same in a temporary folder). From the repo root:
#   python tools/make_fixture_data.py
#   python tools/train.py configs/tiny/mmgpt_tiny_fixture.py --work-dir work_dirs/tiny
_base_ = [
    '../_base_/models/mmgpt_tiny.py',
    '../_base_/datasets/mmgpt_joint_data.py',
    '../_base_/schedules/mmgpt_1epoch.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(
    num_workers=0, persistent_workers=False, pin_memory=False,
    dataset=dict(pipeline=[
        dict(type='LoadConversationImage'),
        dict(type='TokenizeConversation', max_length=128),
        dict(type='PackInputs'),
    ]))

# Same accumulation (16) as the paper; a short warm-up (2 updates = 32 iterations).
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=32),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
]
optim_wrapper = dict(optimizer=dict(lr=1e-3))  # large enough to move the tiny weights
default_hooks = dict(
    logger=dict(interval=4),
    checkpoint=dict(interval=16, max_keep_ckpts=2),
)
custom_hooks = [
    dict(type='TokenThroughputHook'),
    # answers to fixed prompts at the start, every 16 iterations and at the end
    dict(type='EvaluateChatHook', every_n_iters=16, max_new_tokens=8, prompts=[
        dict(question='What colour is the image?', image='data/coco/train2017/000000000000.jpg'),
        dict(question='Name a colour.'),
    ]),
]
