# A-OKVQA val (1,145 questions), multiple choice: the choices in the prompt as in
# training ("<question>\nOptions: a, b, c, d"); the answer is matched to a choice.
#   python tools/test.py configs/eval/mmgpt_aokvqa_mc.py CHECKPOINT
_base_ = ['../_base_/eval/mmgpt_joint.py']
model = dict(generation_cfg=dict(max_new_tokens=16))
test_dataloader = dict(_base_.eval_dataloader,
                       dataset=dict(_base_.aokvqa_val_mc, pipeline=_base_.eval_pipeline))
test_evaluator = dict(type='AOKVQAAcc', mode='mc')
