# Experiment C (docs/experiments.md): LoRA on the language model's self-attention only,
# the gated cross-attention and its feed-forward left frozen, against the paper's targets
# (configs/demo/stage2_mmgpt_lora.py: q/k/v/o_proj + to_q, to_kv, to_out, ff.1, ff.3).
#   python tools/experiments.py --experiments C
_base_ = ['../demo/stage2_mmgpt_lora.py']

model = dict(lora=dict(target_modules=['q_proj', 'k_proj', 'v_proj', 'o_proj']))
