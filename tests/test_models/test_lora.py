"""LoRA: what trains, how many parameters, and errors for targets that match nothing."""
import pytest
import torch
from torch import nn

from mmgpt.models import PAPER_LORA_TARGETS
from mmgpt.testing import build_tiny, open_gates, randomize_lora, vl_prompt


def _targeted_linears(model, targets):
    """LoRA-wrapped layers by canonical name: peft keeps the Linear as base_layer."""
    found = {}
    for name, module in model.named_modules():
        if name.endswith('.base_layer') and isinstance(module, nn.Linear):
            owner = name[:-len('.base_layer')]
            if any(owner == t or owner.endswith('.' + t) for t in targets):
                found[owner] = module
    return found


def test_only_lora_trains_and_count_is_r_times_in_plus_out():
    model = build_tiny()
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert trainable, 'nothing trains'
    assert all('.lora_A.' in n or '.lora_B.' in n for n in trainable), sorted(trainable)
    linears = _targeted_linears(model, PAPER_LORA_TARGETS)
    # every paper target is adapted: 4 layers x 4 self-attn projections + 1 x-attn block x 5
    suffixes = {t: sum(n.endswith('.' + t) for n in linears) for t in PAPER_LORA_TARGETS}
    assert suffixes == {'q_proj': 4, 'k_proj': 4, 'v_proj': 4, 'o_proj': 4, 'to_q': 1,
                        'to_kv': 1, 'to_out': 1, 'ff.1': 1, 'ff.3': 1}
    # the perceiver has to_q/to_kv/to_out too, but LoRA is on the language model only
    assert not any(n.startswith('flamingo.perceiver') for n in linears)
    r = 16
    expected = sum(r * (m.in_features + m.out_features) for m in linears.values())
    assert sum(p.numel() for p in trainable.values()) == expected


def test_unfrozen_patterns_train_too():
    model = build_tiny(unfrozen=[r'perceiver\.', r'attn_gate$'])
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    perceiver = [n for n, _ in model.named_parameters() if n.startswith('flamingo.perceiver.')]
    assert set(perceiver) <= set(trainable)
    assert 'flamingo.lang_encoder.model.layers.3.gated_cross_attn_layer.attn_gate' in trainable
    assert 'flamingo.lang_encoder.model.layers.3.gated_cross_attn_layer.ff_gate' not in trainable
    frozen_base = [n for n in trainable if 'lora_' not in n and 'perceiver' not in n
                   and not n.endswith('attn_gate')]
    assert frozen_base == []


def test_target_matching_nothing_is_an_error():
    with pytest.raises(ValueError, match=r"\['gate_proj_typo'\] match no Linear"):
        build_tiny(lora=dict(r=4, alpha=4, dropout=0.0,
                             target_modules=['q_proj', 'gate_proj_typo']))


def test_unfrozen_matching_nothing_is_an_error():
    with pytest.raises(ValueError, match='percevier'):
        build_tiny(unfrozen=['percevier'])


def test_backward_gives_gradients_to_exactly_the_trainable_parameters():
    model = build_tiny().train()
    open_gates(model)
    randomize_lora(model)  # B = 0 would leave every lora_A gradient at exactly zero
    ids = vl_prompt(model)
    labels = ids.clone()
    labels[:, : ids.shape[1] // 2] = -100
    batch = dict(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels)
    losses = model(vl=dict(batch, images=torch.randn(1, 1, 1, 3, 32, 32)), lang=batch,
                   mode='loss')
    assert set(losses) == {'loss_vl', 'loss_lang'}
    sum(losses.values()).backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert p.grad is None, name


def test_language_only_step_leaves_cross_attention_lora_without_gradient():
    model = build_tiny().train()
    open_gates(model)
    randomize_lora(model)
    ids = vl_prompt(model)
    model(lang=dict(input_ids=ids, labels=ids), mode='loss')['loss_lang'].backward()
    xattn = [(n, p) for n, p in model.named_parameters()
             if p.requires_grad and 'gated_cross_attn_layer' in n]
    selfattn = [(n, p) for n, p in model.named_parameters()
                if p.requires_grad and 'self_attn' in n]
    assert xattn and all(p.grad is None for _, p in xattn)
    assert selfattn and all(p.grad is not None for _, p in selfattn)
