# The paper's recipe (configs/mmgpt_joint.py) under DeepSpeed ZeRO-2, bf16.
#   bash tools/dist_train.sh configs/mmgpt_joint_zero2.py 8
# Same data, LoRA, lr schedule and aggregated batch (8 GPUs x (1 VL + 1 lang) x 16 = 256):
# the strategy hands the schedule's optimizer to DeepSpeed, which accumulates the 16
# iterations and clips at 1.0 itself (mmgpt.engine.deepspeed_optim_wrapper).
_base_ = ['./mmgpt_joint.py', '_base_/strategies/deepspeed_zero2.py']
