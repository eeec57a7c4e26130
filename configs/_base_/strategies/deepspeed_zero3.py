# DeepSpeed ZeRO-3: ZeRO-2 plus the parameters themselves partitioned over the ranks
# (frozen bf16 weights too: 16.4 GB / N per GPU instead of 16.4 GB), gathered layer by
# layer for the forward and backward. Checkpoints gather the trainable weights only.
_base_ = ['./deepspeed_zero2.py']

strategy = dict(
    zero_optimization=dict(
        stage=3,
        stage3_prefetch_bucket_size=int(5e7),
        stage3_param_persistence_threshold=int(1e5),  # keep small tensors whole
        stage3_max_live_parameters=int(1e9),
        stage3_gather_16bit_weights_on_model_save=False,  # we gather LoRA only
    ))
