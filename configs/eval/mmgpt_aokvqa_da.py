# A-OKVQA val (1,145 questions), direct answer: min(#matching direct answers / 3, 1).
#   python tools/test.py configs/eval/mmgpt_aokvqa_da.py CHECKPOINT
_base_ = ['../_base_/eval/mmgpt_joint.py']
model = dict(generation_cfg=dict(max_new_tokens=10))
test_dataloader = dict(_base_.eval_dataloader,
                       dataset=dict(_base_.aokvqa_val_da, pipeline=_base_.eval_pipeline))
test_evaluator = dict(type='AOKVQAAcc', mode='da')
