"""Frozen weights in half precision, CPU process groups, tokens per second."""
import pytest
import torch

from mmgpt.engine import cast_frozen_to, count_tokens, init_cpu_dist, resolve_dtype
from mmgpt.testing import build_tiny


def test_cast_frozen_to_halves_only_frozen_weights():
    from mmgpt.testing import build_tiny

    model = build_tiny()
    cast = cast_frozen_to(model, 'bf16')
    assert cast == sum(p.numel() for p in model.parameters() if not p.requires_grad) > 0
    for name, p in model.named_parameters():
        assert p.dtype == (torch.float32 if p.requires_grad else torch.bfloat16), name
    ids = torch.tensor([[0, model.media_token_id, 6, 7, 1]])
    text = dict(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids)
    images = torch.rand(1, 1, 1, 3, 32, 32)
    with torch.autocast('cpu', dtype=torch.bfloat16):  # what --amp does on GPU
        losses = model(vl=dict(text, images=images), lang=text, mode='loss')
    assert ids.dtype == torch.int64
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
    assert grads and all(g.dtype == torch.float32 for g in grads)


def test_resolve_dtype():
    assert resolve_dtype('bfloat16') is torch.bfloat16
    assert resolve_dtype('fp16') is torch.float16
    with pytest.raises(ValueError, match='int8'):
        resolve_dtype('int8')


def test_init_cpu_dist_is_a_no_op_without_a_launcher():
    assert init_cpu_dist('none') is False
    assert not torch.distributed.is_initialized()


def test_count_tokens_counts_both_streams():
    batch = dict(vl=dict(attention_mask=torch.tensor([[1, 1, 0]])),
                 lang=dict(attention_mask=torch.tensor([[1, 1, 1, 1]])))
    assert count_tokens(batch) == 6
    assert count_tokens(dict(vl=None, lang=dict(attention_mask=torch.ones(2, 3)))) == 6


def test_frozen_dtype_is_a_declared_model_argument():
    model = build_tiny(frozen_dtype='bf16')
    assert model.frozen_dtype == 'bfloat16'
    dtypes = {p.requires_grad: set() for p in model.parameters()}
    for p in model.parameters():
        dtypes[p.requires_grad].add(p.dtype)
    assert dtypes == {True: {torch.float32}, False: {torch.bfloat16}}
    assert build_tiny().frozen_dtype is None
