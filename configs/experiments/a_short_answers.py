# Experiment A (docs/experiments.md): the demo's stage 2 with a short-answer block in the
# vision-language mix, as in the paper's first mix (VQA v2, OK-VQA, GQA... answered with
# one or two words), against the demo's own stage 2 (configs/demo/stage2_mmgpt_lora.py).
#   python tools/experiments.py --experiments A
#
# Half of the vision-language samples are short answers: the same questions as
# llava_qa.json, answered "two", "red", "circle", "cat" (vqa_short.json + gqa_short.json,
# ~5,000 questions). The paper does not give its first mix's proportions; with VQA v2
# (443k questions) and GQA whole, short answers were the majority. To keep the number of
# iterations (and the compute) equal, the sentence-form files are halved:
#   detail 500 + QA 1,250 + dialogue 500 + VQA 1,125 + GQA 1,125 = 4,500 conversations
#   = 1,125 iterations = 70 updates, as the demo's stage 2.
_base_ = ['../demo/stage2_mmgpt_lora.py']

train_dataloader = dict(dataset=dict(vl=[
    dict(_base_.shapes_detail, sample=500), dict(_base_.shapes_qa, sample=1250),
    dict(_base_.shapes_dialog, sample=500), dict(_base_.shapes_vqa_short, sample=1125),
    dict(_base_.shapes_gqa_short, sample=1125)]))
