# Demo stage 0: a tiny CLIP for the demo's OpenFlamingo. The paper's vision encoder is
# OpenAI's CLIP ViT-L/14, pretrained contrastively and kept frozen by OpenFlamingo; no
# weights can be downloaded here, so the demo trains the same open_clip model (CLIP +
# ClipLoss) at the tiny size of the demo's model on the shapes world's captions. Stages
# 1 and 2 load the exported file as `model.vision_encoder.pretrained`, the way the 9B
# config loads CLIP.
#   python tools/train.py configs/demo/stage0_clip_pretrain.py
# (tools/demo.py runs it with train_dataloader.dataset.data_root=<its data folder>.)
_base_ = [
    '../_base_/models/mmgpt_tiny_shapes.py',
    '../_base_/default_runtime.py',
    '../_base_/datasets/shapes_world.py',
]
custom_imports = dict(imports=['mmgpt.demo.clip_pretrain'], allow_failed_imports=False)
work_dir = 'work_dirs/demo/stage0'

# Both towers of the demo model's CLIP (its vision_encoder config) and its tokenizer.
model = dict(_delete_=True, type='ContrastiveCLIP',
             vision_encoder=_base_.model.vision_encoder, tokenizer=_base_.model.tokenizer)

# Each iteration is one batch of 48 distinct captions (of the 60 in the cc_sbu_align-style
# file), each with one of its images: 800 iterations, about 50 s on 2 CPU cores.
train_dataloader = dict(
    batch_size=1,  # one item is a whole contrastive batch
    num_workers=0, persistent_workers=False, pin_memory=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='CaptionBatchDataset', captions=[_base_.shapes_captions],
                 data_root=_base_.shapes_root, batch_size=48, num_batches=800, seed=0))

# AdamW 2e-3, weight decay 0.1 on everything, one-cycle: 10% warm-up, then cosine
# (MMEngine's OneCycleLR, with a state a weights-only checkpoint can hold).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.1))
param_scheduler = [dict(type='CheckpointableOneCycleLR', eta_max=2e-3, total_steps=800,
                        pct_start=0.1, by_epoch=False)]
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=1)
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(interval=400, max_keep_ckpts=1, save_last=True),
)
custom_hooks = [
    # the open_clip state dict of the final CLIP, read by stages 1 and 2
    dict(type='ExportWeightsHook', filename='clip_tiny.safetensors', strip_prefix='clip.'),
]
