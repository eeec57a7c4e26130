"""Shared test set-up: MMEngine's default scope and a small torch thread count."""
import os

import pytest
import torch

os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True, scope='session')
def _mmgpt_scope():
    from mmengine.registry import DefaultScope, init_default_scope
    if DefaultScope.get_current_instance() is None:
        init_default_scope('mmgpt')
    yield
