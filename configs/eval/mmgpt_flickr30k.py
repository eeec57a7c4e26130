# Flickr30k, Karpathy test (1,000 images): BLEU-4, METEOR, ROUGE-L, CIDEr.
#   python tools/test.py configs/eval/mmgpt_flickr30k.py CHECKPOINT
_base_ = ['../_base_/eval/mmgpt_joint.py']
model = dict(generation_cfg=dict(max_new_tokens=40))
test_dataloader = dict(_base_.eval_dataloader,
                       dataset=dict(_base_.flickr30k_karpathy_test,
                                    pipeline=_base_.eval_pipeline))
test_evaluator = dict(type='COCOCaption')
