"""Activation checkpointing of the decoder layers with their gated cross-attention."""
import torch
from torch.utils import checkpoint as torch_checkpoint

from mmgpt.testing import build_tiny, open_gates, randomize_lora, vl_prompt


def _batch(model):
    ids = vl_prompt(model, 'What colour is it?')
    ids = torch.cat([ids, ids[:, 1:9]], dim=1)
    labels = ids.clone()
    labels[:, :5] = -100
    image = torch.randn(1, 1, 1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    vl = dict(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels, images=image)
    lang = dict(input_ids=ids[:, :12], attention_mask=torch.ones_like(ids[:, :12]),
                labels=labels[:, :12])
    return vl, lang


def _grads(checkpointing: bool, monkeypatch=None):
    model = build_tiny(gradient_checkpointing=checkpointing).train()
    open_gates(model, 0.5)  # gates at 0 would give the cross-attention LoRA no gradient
    randomize_lora(model)
    vl, lang = _batch(model)
    losses = model(vl=vl, lang=lang, mode='loss')
    sum(losses.values()).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def test_checkpointing_gives_the_same_gradients_and_recomputes(monkeypatch):
    plain = _grads(False)
    calls = []
    real = torch_checkpoint.checkpoint

    def counting(*args, **kwargs):
        calls.append(kwargs.get('use_reentrant'))
        return real(*args, **kwargs)

    monkeypatch.setattr('mmgpt.models.flamingo_lm.checkpoint', counting)
    ckpt = _grads(True)
    assert calls == [False] * 8  # 4 decoder layers x (VL + language-only forward)
    assert plain.keys() == ckpt.keys()
    cross = [n for n in plain if 'gated_cross_attn_layer' in n]
    assert cross and all(plain[n].abs().max() > 0 for n in cross)  # cross-attn LoRA trains
    for name in plain:
        torch.testing.assert_close(ckpt[name], plain[name], rtol=1e-5, atol=1e-7)


def test_checkpointing_is_off_in_eval_and_generation_still_works():
    model = build_tiny(gradient_checkpointing=True)
    assert all(layer.checkpoint_activations
               for layer in model.lang_encoder._flamingo_layers())
    open_gates(model, 0.5)
    ids = vl_prompt(model)
    out = model.generate(ids, images=torch.randn(1, 3, 32, 32), max_new_tokens=3,
                         min_new_tokens=3)
    assert out.shape == (1, 3)
