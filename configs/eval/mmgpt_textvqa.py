# TextVQA val (5,000 questions): VQA accuracy; the references are not pre-normalised,
# so they are normalised like the answers (as TextVQA's own evaluator does).
#   python tools/test.py configs/eval/mmgpt_textvqa.py CHECKPOINT
_base_ = ['../_base_/eval/mmgpt_joint.py']
model = dict(generation_cfg=dict(max_new_tokens=10))
test_dataloader = dict(_base_.eval_dataloader,
                       dataset=dict(_base_.textvqa_val, pipeline=_base_.eval_pipeline))
test_evaluator = dict(type='VQAAcc', full_reference_norm=True)
