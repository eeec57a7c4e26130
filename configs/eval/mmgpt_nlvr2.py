# NLVR2 dev (6,982 statements), left image only: exact match of "True" / "False".
#   python tools/test.py configs/eval/mmgpt_nlvr2.py CHECKPOINT
_base_ = ['../_base_/eval/mmgpt_joint.py']
model = dict(generation_cfg=dict(max_new_tokens=4))
test_dataloader = dict(_base_.eval_dataloader,
                       dataset=dict(_base_.nlvr2_dev, pipeline=_base_.eval_pipeline))
test_evaluator = dict(type='ExactMatchAcc', normalize='short')
