# OK-VQA val (5,046 questions): VQA accuracy.
#   python tools/test.py configs/eval/mmgpt_okvqa.py CHECKPOINT
_base_ = ['../_base_/eval/mmgpt_joint.py']
model = dict(generation_cfg=dict(max_new_tokens=10))
test_dataloader = dict(_base_.eval_dataloader,
                       dataset=dict(_base_.okvqa_val, pipeline=_base_.eval_pipeline))
test_evaluator = dict(type='VQAAcc')
