# DeepSpeed ZeRO-2 through MMEngine's FlexibleRunner (tools/train.py picks that runner for
# any config with a `strategy`): optimizer state and gradients of the trainable (LoRA)
# weights are partitioned over the ranks; the model, frozen weights included, is held
# in bf16 on every rank; fp32 master copies of the trainable weights live in the
# optimizer. Checkpoints are the same one-file, trainable-only format as DDP's
# (mmgpt/engine/strategies.py gathers the fp32 masters and AdamW's moments).
#
# The config's optim_wrapper stays the schedule's: the strategy turns it into MMEngine's
# DeepSpeedOptimWrapper and moves its accumulative_counts and clip_grad into DeepSpeed's
# gradient_accumulation_steps and gradient_clipping (mmgpt.engine.deepspeed_optim_wrapper).
strategy = dict(
    type='MMGPTDeepSpeedStrategy',
    bf16=dict(enabled=True),
    zero_optimization=dict(
        stage=2,
        overlap_comm=True,
        contiguous_gradients=True,
        reduce_bucket_size=int(5e7),  # LoRA grads: 23.5M params fit in one bucket
        allgather_bucket_size=int(5e7),
    ),
    # gradient_accumulation_steps and gradient_clipping: from the schedule's optim_wrapper
    # train_micro_batch_size_per_gpu is taken from train_dataloader.batch_size
)
