# Evaluation of the demo's tuned model (stage 2) on the held-out shapes world: the model
# of configs/demo/stage2_mmgpt_lora.py, greedy answers of at most 24 new tokens (the
# demo's setting for every task), the test pipeline.
_base_ = ['../../demo/stage2_mmgpt_lora.py', '../datasets/eval_shapes_world.py']

model = dict(generation_cfg=dict(max_new_tokens=24, do_sample=False))
eval_pipeline = [
    # the vision tower comes from the model config (MMGPTRunner.build_dataloader)
    dict(type='LoadConversationImage', on_error='raise'),
    dict(type='PackEvalInputs'),
]
