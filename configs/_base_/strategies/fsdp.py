# PyTorch FSDP through MMEngine's FlexibleRunner: every decoder layer (with its gated
# cross-attention) is one FSDP unit whose frozen bf16 weights are sharded over the
# ranks and gathered for its forward/backward; the LoRA A/B Linears are small fp32
# units of their own (FSDP flattens one dtype per unit). use_orig_params=True keeps the
# LoRA parameters separate, so the optimizer sees them by name (only they train).
# Checkpoints are the one-file, trainable-only format of DDP (gathered unit by unit).
strategy = dict(
    type='MMGPTFSDPStrategy',
    frozen_dtype='bfloat16',  # None keeps the frozen weights fp32 (as on CPU tests)
    model_wrapper=dict(
        use_orig_params=True,
        sharding_strategy='FULL_SHARD',  # 'HYBRID_SHARD': shard in a node, replicate across
        backward_prefetch='BACKWARD_PRE',
        limit_all_gathers=True,
        # auto_wrap_policy: default mmgpt.engine.fsdp_unit_policy (decoder layers + LoRA)
    ),
)
