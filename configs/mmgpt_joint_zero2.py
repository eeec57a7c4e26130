# The paper's recipe (configs/mmgpt_joint.py) under DeepSpeed ZeRO-2, bf16.
#   bash tools/dist_train.sh configs/mmgpt_joint_zero2.py 8
# Same data, LoRA, lr schedule and aggregated batch (8 GPUs x (1 VL + 1 lang) x 16 = 256);
# DeepSpeed accumulates the 16 iterations and clips at 1.0 (configs/_base_/strategies/).
_base_ = ['./mmgpt_joint.py', '_base_/strategies/deepspeed_zero2.py']

# DeepSpeed steps the optimizer itself: the wrapper keeps the optimizer of the
# trainable parameters only (MMGPTOptimWrapperConstructor) and its weight-decay groups.
optim_wrapper = dict(
    _delete_=True,
    type='DeepSpeedOptimWrapper',
    optimizer={{_base_.optim_wrapper.optimizer}},
    constructor={{_base_.optim_wrapper.constructor}},
    paramwise_cfg={{_base_.optim_wrapper.paramwise_cfg}},
)
# DeepSpeed accumulates (16 iterations) and clips (1.0, once per update) itself.
strategy = dict(
    gradient_accumulation_steps={{_base_.optim_wrapper.accumulative_counts}},
    gradient_clipping={{_base_.optim_wrapper.clip_grad.max_norm}},
)
