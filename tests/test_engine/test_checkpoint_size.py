"""tools/analysis/checkpoint_size.py: the analytic count matches a built model."""
import importlib.util

import pytest
from engine_fixtures import JOINT_CONFIG, REPO, TINY_CONFIG
from mmengine import Config


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location(
        'checkpoint_size', REPO / 'tools' / 'analysis' / 'checkpoint_size.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_analytic_count_equals_the_built_tiny_model(tool, capsys):
    from mmgpt.testing import build_tiny

    model = build_tiny()
    built = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert tool.report(Config.fromfile(TINY_CONFIG))['trainable'] == built


def test_paper_config_checkpoint_is_megabytes(tool, capsys):
    sizes = tool.report(Config.fromfile(JOINT_CONFIG))
    # LLaMA-7B q/k/v/o: 32 layers x 4 x 16 x (4096 + 4096) = 16,777,216
    # 8 cross-attn blocks x 16 x [(4096+512) + (1024+1024) + (512+4096)
    #                             + (4096+16384) + (16384+4096)] = 6,684,672
    assert sizes['trainable'] == 16_777_216 + 6_684_672
    assert 90e6 < sizes['weights_bytes'] < 100e6  # ~94 MB of fp32 LoRA weights
    out = capsys.readouterr().out
    assert 'trainable parameters: 23,461,888' in out and '93.8 MB' in out
