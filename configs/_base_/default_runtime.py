# Runtime shared by every training config: scope, hooks, environment, logging.
default_scope = 'mmgpt'  # string `type=`s resolve in mmgpt's registries first

# The knobs changed most often.
checkpoint_interval = 1600  # iterations; must be a multiple of accumulative_counts (16)
log_interval = 16  # iterations between log lines (one optimizer update)

default_hooks = dict(
    # time of each iteration and of its data loading; feeds the ETA
    timer=dict(type='IterTimerHook'),
    # loss_vl, loss_lang, lr, grad_norm, tokens_per_sec, data_time, eta every N iters
    logger=dict(type='LoggerHook', interval=log_interval, log_metric_by_epoch=False),
    # steps the lr schedulers every iteration
    param_scheduler=dict(type='ParamSchedulerHook'),
    # trainable weights + optimizer + schedulers + message hub + RNG, written atomically
    checkpoint=dict(type='MMGPTCheckpointHook', by_epoch=False, interval=checkpoint_interval,
                    max_keep_ckpts=3, save_last=True),
    # sets the sampler's epoch so that shuffling is seeded and resumable
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # puts iter/epoch/lr into the message hub for the other hooks
    runtime_info=dict(type='RuntimeInfoHook'),
)
custom_hooks = [
    # tokens per second from the batch's attention masks (this rank)
    dict(type='TokenThroughputHook'),
    # answers to fixed prompts every N iterations (greedy; does not change training):
    # dict(type='EvaluateChatHook', every_n_iters=1600, prompts=[
    #     dict(question='Describe the image in detail.',
    #          image='data/coco/train2017/000000033471.jpg'),
    #     dict(question='Give three tips for staying healthy.')]),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPU; on a machine without CUDA MMGPTRunner initialises gloo itself
    dist_cfg=dict(backend='nccl'),
)
# DDP: language-only samples skip the gated cross-attention, so its LoRA weights get
# no gradient in an iteration without a vision-language sample.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                         find_unused_parameters=True)

vis_backends = [
    dict(type='LocalVisBackend'),
    # dict(type='TensorboardVisBackend'),
    # dict(type='WandbVisBackend', init_kwargs=dict(project='mmgpt')),
]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_processor = dict(type='LogProcessor', window_size=log_interval, by_epoch=False)
log_level = 'INFO'

randomness = dict(seed=0, deterministic=False)
load_from = None  # a checkpoint of trainable weights to start from
resume = False  # tools/train.py --resume [CKPT]
