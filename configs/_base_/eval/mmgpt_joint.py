# Evaluation of the paper's model: the model (and so its vision tower and tokenizer)
# exactly as the training config builds it, the benchmark entries, the test pipeline.
_base_ = ['../../mmgpt_joint.py', '../datasets/eval_benchmarks.py']

# The model's own image preprocessing; an unreadable image stops the run (a skipped
# question would change the score without saying so).
eval_pipeline = [
    # the vision tower comes from the model config (MMGPTRunner.build_dataloader)
    dict(type='LoadConversationImage', on_error='raise'),
    dict(type='PackEvalInputs'),
]
