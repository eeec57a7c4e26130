# MultiModal-GPT, the paper's recipe: OpenFlamingo-9B frozen + LoRA r=16, the joint
# vision-language + language-only data, one epoch, AdamW lr 1e-5 with warm-up + cosine.
#   bash tools/dist_train.sh configs/mmgpt_joint.py 8
# Aggregated batch: 8 GPUs x (1 VL + 1 lang) x 16 accumulated iterations = 256 samples.
_base_ = [
    '_base_/models/mmgpt_openflamingo9b_lora.py',
    '_base_/datasets/mmgpt_joint_data.py',
    '_base_/schedules/mmgpt_1epoch.py',
    '_base_/default_runtime.py',
]
