# Experiment B (docs/experiments.md): the demo's stage 2 without the language-only
# stream, against the demo's own stage 2 (configs/demo/stage2_mmgpt_lora.py, 4
# vision-language + 4 language-only samples per iteration).
#   python tools/experiments.py --experiments B
#
# The same 4 vision-language samples per iteration and the same 1,125 iterations (the
# vision-language data defines the epoch); no Dolly-style samples.
_base_ = ['../demo/stage2_mmgpt_lora.py']

train_dataloader = dict(
    batch_size=4,
    sampler=dict(vl_per_iter=4, lang_per_iter=0),
    dataset=dict(lang=[]),
)
