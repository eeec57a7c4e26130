# VQAv2 val (214,354 questions): VQA accuracy (official normalisation, leave-one-out).
#   python tools/test.py configs/eval/mmgpt_vqav2.py work_dirs/mmgpt_joint/iter_20800.pth
_base_ = ['../_base_/eval/mmgpt_joint.py']
model = dict(generation_cfg=dict(max_new_tokens=10))
test_dataloader = dict(_base_.eval_dataloader,
                       dataset=dict(_base_.vqav2_val, pipeline=_base_.eval_pipeline))
test_evaluator = dict(type='VQAAcc')
