# The paper's recipe (configs/mmgpt_joint.py) under PyTorch FSDP: decoder layers sharded,
# frozen weights bf16, LoRA fp32, bf16 autocast.
#   bash tools/dist_train.sh configs/mmgpt_joint_fsdp.py 8
_base_ = ['./mmgpt_joint.py', '_base_/strategies/fsdp.py']

# bf16 autocast (CUDA); accumulation 16 and clipping 1.0 stay from the schedule (the
# clipping uses the global norm over the shards).
optim_wrapper = dict(type='AmpOptimWrapper', dtype='bfloat16')
