# The paper's recipe (configs/mmgpt_joint.py) under DeepSpeed ZeRO-3, bf16: parameters
# (frozen ones too), gradients and optimizer state partitioned over the ranks.
#   bash tools/dist_train.sh configs/mmgpt_joint_zero3.py 8
_base_ = ['./mmgpt_joint.py', '_base_/strategies/deepspeed_zero3.py']

# As in mmgpt_joint_zero2.py: DeepSpeed steps the optimizer of the trainable parameters.
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
