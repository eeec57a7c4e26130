# The paper's final data mix (PAPER.md), read from the public files under data/
# (docs/training.md says where to download each and shows the tree).
#
# Every iteration takes, per GPU, 1 vision-language + 1 language-only sample
# (JointSampler, batch_size=2). The epoch is one pass over the vision-language data:
#   LLaVA detail 23k + complex reasoning 77k + conversation 58k + cc_sbu_align ~3.4k
#   + A-OKVQA 5,000 + COCO Caption 512 + OCR-VQA 512 = ~167k samples
#   -> ~167k / 8 GPUs = ~20.9k iterations; the language stream (Dolly 15k + Alpaca-GPT4
#   52k) is infinite and reshuffled every pass.
#
# The pipeline's model-dependent arguments (the vision tower's image size and
# normalisation, the tokenizer, the template) are left out: they are the model config's,
# filled in when the dataloader is built; so is the collate pad id (the tokenizer's).
data_root = 'data/'
coco_train2017 = data_root + 'coco/train2017/'

vl_datasets = [
    dict(type='LlavaDataset', ann_file=data_root + 'llava/detail_23k.json',
         img_prefix=coco_train2017),
    dict(type='LlavaDataset', ann_file=data_root + 'llava/complex_reasoning_77k.json',
         img_prefix=coco_train2017),
    dict(type='LlavaDialDataset', ann_file=data_root + 'llava/conversation_58k.json',
         img_prefix=coco_train2017),
    dict(type='CcSbuAlignDataset', ann_file=data_root + 'cc_sbu_align/filter_cap.json',
         img_prefix=data_root + 'cc_sbu_align/image/'),
    dict(type='AOKVQADataset', ann_file=data_root + 'aokvqa/aokvqa_v1p0_train.json',
         img_prefix=data_root + 'coco/', sample=5000),  # COCO root: train2017/<id>.jpg
    dict(type='COCOCaptionDataset',
         ann_file=data_root + 'coco/annotations/coco_karpathy_train.json',
         img_prefix=data_root + 'coco/', sample=512),  # COCO 2014 root: train2014/...
    dict(type='OCRVQADataset', ann_file=data_root + 'OCR_VQA/dataset.json',
         img_prefix=data_root + 'OCR_VQA/images/', split=1, sample=512),
]
lang_datasets = [
    dict(type='DollyDataset', ann_file=data_root + 'dolly/databricks-dolly-15k.jsonl'),
    dict(type='AlpacaGPT4Dataset', ann_file=data_root + 'alpaca_gpt4/alpaca_gpt4_data.json'),
]

train_dataloader = dict(
    batch_size=2,  # per GPU: 1 vision-language + 1 language-only sample
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='JointSampler', vl_per_iter=1, lang_per_iter=1, shuffle=True),
    collate_fn=dict(type='mmgpt_collate'),  # pads with the model tokenizer's pad id
    dataset=dict(type='JointDataset', vl=vl_datasets, lang=lang_datasets, pipeline=[
        dict(type='LoadConversationImage'),  # model.vision_encoder's preprocessing
        dict(type='TokenizeConversation', max_length=512),  # model.tokenizer, model.template
        dict(type='PackInputs'),
    ]),
)
