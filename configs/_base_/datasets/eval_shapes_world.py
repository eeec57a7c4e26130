# The demo's held-out shapes-world items in public evaluation formats (written from
# eval_items.json by mmgpt.demo.write_eval_splits into <data>/eval/): count / color /
# shape / word questions as VQAv2 question + annotation files, captions as a COCO
# Karpathy (LAVIS) test file, dialogues as LLaVA-Instruct, language tasks as Dolly.
# keywords.json holds the demo's keyword specification of every item (KeywordAcc).
shapes_eval_root = 'work_dirs/demo/data/'
shapes_eval_dir = shapes_eval_root + 'eval/'

eval_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False))
test_cfg = dict(type='PredictionTestLoop')

shapes_eval_vqa = dict(
    type='VQAv2EvalDataset', split_name='shapes_vqa', data_root=shapes_eval_root,
    ann_file='eval/vqa_questions.json', answers_file='eval/vqa_annotations.json',
    img_prefix='images/test/', image_pattern='{image_id:05d}.png')
shapes_eval_caption = dict(
    type='COCOKarpathyEvalDataset', split_name='shapes_caption', data_root=shapes_eval_root,
    ann_file='eval/caption_test.json', prompt_key='prompt')
shapes_eval_dialog = dict(
    type='LlavaEvalDataset', split_name='shapes_dialog', data_root=shapes_eval_root,
    ann_file='eval/dialog.json')
shapes_eval_lang = dict(
    type='DollyEvalDataset', split_name='shapes_lang', data_root=shapes_eval_root,
    ann_file='eval/lang.jsonl')
shapes_eval_keywords = dict(type='KeywordAcc', ann_file=shapes_eval_dir + 'keywords.json')
