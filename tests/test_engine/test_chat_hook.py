"""EvaluateChatHook: answers fixed prompts without disturbing training."""
from types import SimpleNamespace

import pytest
import torch
from mmengine import Config
from PIL import Image

from mmgpt.engine import EvaluateChatHook
from mmgpt.testing import TINY_MODEL_CONFIG, build_tiny


def test_chat_hook_answers_and_leaves_training_state_alone(tmp_path):
    image = tmp_path / 'red.jpg'
    Image.new('RGB', (32, 32), (200, 30, 30)).save(image)
    model = build_tiny().train()
    for p in model.parameters():
        if p.requires_grad:
            p.grad = torch.ones_like(p)
    logged = []
    runner = SimpleNamespace(model=model, iter=15, cfg=Config.fromfile(TINY_MODEL_CONFIG),
                             logger=SimpleNamespace(info=logged.append))
    hook = EvaluateChatHook([dict(question='What colour is it?', image=str(image)),
                             dict(question='Give one tip.')], every_n_iters=16,
                            max_new_tokens=4)
    rng = torch.get_rng_state()
    hook.after_train_iter(runner, 15)
    assert len(logged) == 2 and 'Q: ' in logged[0] and str(image) in logged[0]
    assert model.training
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(p.grad, torch.ones_like(p))
               for p in model.parameters() if p.requires_grad)


def test_chat_hook_needs_prompts():
    with pytest.raises(ValueError, match='prompts'):
        EvaluateChatHook([dict(image='x.jpg')])
