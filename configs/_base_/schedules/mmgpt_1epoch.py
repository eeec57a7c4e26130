# One epoch of AdamW, lr 1e-5, linear warm-up then cosine, gradient accumulation 16.
#
# MMEngine counts ITERATIONS (one forward/backward of 1 VL + 1 language sample per
# GPU), not optimizer updates: with accumulative_counts=16 the optimizer steps at
# iterations 16, 32, ... and the schedulers step every iteration. The released code
# warmed up for 100 optimizer steps: 100 updates x 16 iterations = 1600 iterations.
accumulative_counts = 16
warmup_iters = 100 * accumulative_counts  # = 1600

optim_wrapper = dict(
    type='OptimWrapper',  # tools/train.py --amp switches to AmpOptimWrapper (bf16)
    # dtype='float16',  # with --amp: fp16 with a dynamic loss scaler instead of bf16
    optimizer=dict(type='AdamW', lr=1e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1),
    accumulative_counts=accumulative_counts,
    clip_grad=dict(max_norm=1.0),  # applied once per update, to the accumulated gradient
    constructor='MMGPTOptimWrapperConstructor',
    # Released code: decay 0.1 on the gated cross-attention only (its LoRA A/B here),
    # not on gates, norms, biases or the self-attention LoRA. These are the constructor's
    # defaults, defined once in mmgpt/engine/optim.py (RELEASED_DECAY_PATTERNS,
    # RELEASED_NO_DECAY_PATTERNS); set decay_patterns / no_decay_patterns here to change them.
    paramwise_cfg=dict(),
)

# lr(t) = 1e-5 * w(t) * c(t) at iteration t (0-based); MMEngine's schedulers multiply:
#   w(t) = 1e-3 + (1 - 1e-3) * min(t, 1599) / 1599          (LinearLR, end - begin - 1 steps)
#   c(t) = (1 + cos(pi * t / T)) / 2, T = iterations in one epoch  (CosineAnnealingLR)
# T = len(train_dataloader): about 167k VL samples / 8 GPUs = ~20.9k iterations
# (~1300 updates), so the warm-up is the first ~8% and c(1600) = 0.985. The released
# code (transformers' cosine-with-warmup, stepped per update) started the cosine after
# the warm-up instead (T counted from there): its lr is up to ~0.07 x 1e-5 higher in the
# middle of the epoch; both reach 0 at the end. With max_epochs > 1 set the cosine's
# `end` to max_epochs.
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
]

# One epoch of the vision-language data (each iteration also draws a language-only
# sample from an infinite stream). Mid-epoch checkpoints resume at the exact batch.
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=1)
