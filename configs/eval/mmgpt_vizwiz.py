# VizWiz-VQA val (4,319 questions): VQA accuracy (VizWiz's evaluation is VQA's).
#   python tools/test.py configs/eval/mmgpt_vizwiz.py CHECKPOINT
_base_ = ['../_base_/eval/mmgpt_joint.py']
model = dict(generation_cfg=dict(max_new_tokens=10))
test_dataloader = dict(_base_.eval_dataloader,
                       dataset=dict(_base_.vizwiz_val, pipeline=_base_.eval_pipeline))
test_evaluator = dict(type='VQAAcc', full_reference_norm=True)
