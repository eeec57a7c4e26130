# The shapes world's count / color / shape / word questions as VQAv2 files: the demo's
# keyword scoring (KeywordAcc, equal to the demo's table) and VQA accuracy against the
# reference sentence (10 identical answers, normalised like the prediction: close to the
# strict column; the official rule leaves identical references unnormalised).
#   python tools/test.py configs/eval/shapes_world_vqa.py \
#       work_dirs/demo/stage2/mmgpt_lora.safetensors
_base_ = ['../_base_/eval/shapes_world.py']
test_dataloader = dict(_base_.eval_dataloader,
                       dataset=dict(_base_.shapes_eval_vqa, pipeline=_base_.eval_pipeline))
test_evaluator = [_base_.shapes_eval_keywords, dict(type='VQAAcc', full_reference_norm=True)]
