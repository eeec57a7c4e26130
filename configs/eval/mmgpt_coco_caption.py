# COCO Caption, Karpathy test (5,000 images): BLEU-4, METEOR, ROUGE-L, CIDEr
# (pycocoevalcap; needs Java).
#   python tools/test.py configs/eval/mmgpt_coco_caption.py CHECKPOINT
_base_ = ['../_base_/eval/mmgpt_joint.py']
model = dict(generation_cfg=dict(max_new_tokens=40))
test_dataloader = dict(_base_.eval_dataloader,
                       dataset=dict(_base_.coco_karpathy_test, pipeline=_base_.eval_pipeline))
test_evaluator = dict(type='COCOCaption')
