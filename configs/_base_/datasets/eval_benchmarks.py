# The evaluation benchmarks, read from their public val/test files under data/
# (docs/evaluation.md lists the downloads and the tree). A leaf config in configs/eval/
# picks one entry, adds the model's image pipeline and sets its metric.
eval_data_root = 'data/'
eval_coco_root = eval_data_root + 'coco/'

# One question per line of the predictions file; batches are left-padded prompts.
eval_dataloader = dict(
    batch_size=8, num_workers=2, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False))
test_cfg = dict(type='PredictionTestLoop')  # predictions saved as they come; --resume

# Short answers: LLaVA-1.5's instruction; the released MultiModal-GPT never saw VQA data.
short_answer = '{question}\nAnswer the question using a single word or phrase.'

vqav2_val = dict(
    type='VQAv2EvalDataset', split_name='vqav2_val', prompt=short_answer,
    ann_file=eval_data_root + 'vqav2/v2_OpenEnded_mscoco_val2014_questions.json',
    answers_file=eval_data_root + 'vqav2/v2_mscoco_val2014_annotations.json',
    img_prefix=eval_coco_root + 'val2014/')
okvqa_val = dict(
    type='VQAv2EvalDataset', split_name='okvqa_val', prompt=short_answer,
    ann_file=eval_data_root + 'okvqa/OpenEnded_mscoco_val2014_questions.json',
    answers_file=eval_data_root + 'okvqa/mscoco_val2014_annotations.json',
    img_prefix=eval_coco_root + 'val2014/')
textvqa_val = dict(
    type='TextVQAEvalDataset', split_name='textvqa_val', prompt=short_answer,
    ann_file=eval_data_root + 'textvqa/TextVQA_0.5.1_val.json',
    img_prefix=eval_data_root + 'textvqa/train_images/')
vizwiz_val = dict(
    type='VizWizEvalDataset', split_name='vizwiz_val',
    prompt='{question}\nWhen the provided information is insufficient, respond with '
           "'Unanswerable'.\nAnswer the question using a single word or phrase.",
    ann_file=eval_data_root + 'vizwiz/val.json', img_prefix=eval_data_root + 'vizwiz/val/')
aokvqa_val_mc = dict(
    type='AOKVQAEvalDataset', split_name='aokvqa_val',
    ann_file=eval_data_root + 'aokvqa/aokvqa_v1p0_val.json', img_prefix=eval_coco_root)
aokvqa_val_da = dict(aokvqa_val_mc, prompt=short_answer)
gqa_testdev = dict(
    type='GQAEvalDataset', split_name='gqa_testdev', prompt=short_answer,
    ann_file=eval_data_root + 'gqa/testdev_balanced_questions.json',
    img_prefix=eval_data_root + 'gqa/images/')
coco_karpathy_test = dict(
    type='COCOKarpathyEvalDataset', split_name='coco_karpathy_test',
    ann_file=eval_coco_root + 'annotations/coco_karpathy_test.json', img_prefix=eval_coco_root)
flickr30k_karpathy_test = dict(
    type='Flickr30kKarpathyEvalDataset', split_name='flickr30k_karpathy_test',
    ann_file=eval_data_root + 'flickr30k/annotations/flickr30k_test.json',
    img_prefix=eval_data_root + 'flickr30k/')
nlvr2_dev = dict(
    type='NLVR2EvalDataset', split_name='nlvr2_dev', file_format='jsonl',
    ann_file=eval_data_root + 'nlvr2/dev.json', img_prefix=eval_data_root + 'nlvr2/dev/')
# Held-out language-only instructions: Dolly lines that training did not see (make the
# split yourself, e.g. the last 1,000 lines; see docs/evaluation.md).
dolly_heldout = dict(
    type='DollyEvalDataset', split_name='dolly_heldout',
    ann_file=eval_data_root + 'dolly/dolly_heldout.jsonl')
