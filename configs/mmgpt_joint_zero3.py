# The paper's recipe (configs/mmgpt_joint.py) under DeepSpeed ZeRO-3, bf16: parameters
# (frozen ones too), gradients and optimizer state partitioned over the ranks.
#   bash tools/dist_train.sh configs/mmgpt_joint_zero3.py 8
# As mmgpt_joint_zero2.py: DeepSpeed takes the schedule's accumulation and clipping.
_base_ = ['./mmgpt_joint.py', '_base_/strategies/deepspeed_zero3.py']
