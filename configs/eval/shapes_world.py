# The demo's evaluation: every held-out shapes-world item (count, color, shape, word,
# caption, dialog, language tasks) in its public format, scored by the demo's keyword /
# strict rules (KeywordAcc). tools/demo.py runs it for the base and the tuned model:
#   python tools/test.py configs/eval/shapes_world.py \
#       work_dirs/demo/stage2/mmgpt_lora.safetensors
_base_ = ['../_base_/eval/shapes_world.py']
test_dataloader = dict(_base_.eval_dataloader, dataset=dict(
    type='ConcatDataset', ignore_keys=['modality'],  # the language items are 'lang'
    datasets=[dict(_base_.shapes_eval_vqa, pipeline=_base_.eval_pipeline),
              dict(_base_.shapes_eval_caption, pipeline=_base_.eval_pipeline),
              dict(_base_.shapes_eval_dialog, pipeline=_base_.eval_pipeline),
              dict(_base_.shapes_eval_lang, pipeline=_base_.eval_pipeline)]))
test_evaluator = [_base_.shapes_eval_keywords]
