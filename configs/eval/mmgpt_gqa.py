# GQA testdev balanced (12,578 questions): exact match after VQA normalisation.
#   python tools/test.py configs/eval/mmgpt_gqa.py CHECKPOINT
_base_ = ['../_base_/eval/mmgpt_joint.py']
model = dict(generation_cfg=dict(max_new_tokens=10))
test_dataloader = dict(_base_.eval_dataloader,
                       dataset=dict(_base_.gqa_testdev, pipeline=_base_.eval_pipeline))
test_evaluator = dict(type='ExactMatchAcc')
