# The shapes world's held-out captions as a COCO Karpathy (LAVIS) test file: the demo's
# keyword scoring (KeywordAcc) and BLEU / METEOR / ROUGE-L / CIDEr (pycocoevalcap).
#   python tools/test.py configs/eval/shapes_world_caption.py \
#       work_dirs/demo/stage2/mmgpt_lora.safetensors
_base_ = ['../_base_/eval/shapes_world.py']
test_dataloader = dict(_base_.eval_dataloader,
                       dataset=dict(_base_.shapes_eval_caption, pipeline=_base_.eval_pipeline))
test_evaluator = [_base_.shapes_eval_keywords, dict(type='COCOCaption')]
