# Held-out Dolly instructions (language only): ROUGE-L and exact match, the number
# behind "joint training keeps the language ability".
#   python tools/test.py configs/eval/mmgpt_dolly_heldout.py CHECKPOINT
_base_ = ['../_base_/eval/mmgpt_joint.py']
model = dict(generation_cfg=dict(max_new_tokens=256))
test_dataloader = dict(_base_.eval_dataloader,
                       dataset=dict(_base_.dolly_heldout, pipeline=_base_.eval_pipeline))
test_evaluator = dict(type='InstructionMetric')
