"""tools/analysis/benchmark_train.py and memory_estimate.py on the tiny config, on CPU."""
import importlib.util
import json
import sys

import pytest
from engine_fixtures import REPO, TINY_CONFIG, run

TOOLS = REPO / 'tools' / 'analysis'


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def bench(tmp_path_factory):
    """One benchmark run of the tiny config (about 15 s here): its JSON and stdout."""
    out = tmp_path_factory.mktemp('bench') / 'bench.json'
    proc = run([sys.executable, str(TOOLS / 'benchmark_train.py'), TINY_CONFIG, '--steps', '2',
                '--warmup', '1', '--device', 'cpu', '--json-out', str(out)], cwd=REPO,
               timeout=300)
    return json.loads(out.read_text()), proc.stdout


def test_benchmark_prints_and_writes_its_json(bench):
    results, stdout = bench
    assert json.loads(stdout[stdout.index('{'):]) == results
    assert results['strategy'] == 'SingleDeviceStrategy' and results['device'] == 'cpu'
    assert results['batch_per_rank'] == dict(vl=1, lang=1, seq_len=128)
    assert results['tokens_per_sec'] > 0 and results['samples_per_sec'] > 0
    assert results['tokens_per_sec'] == pytest.approx(128 * results['samples_per_sec'])
    assert results['mfu'] is None  # no peak known for a CPU unless --peak-tflops
    assert results['memory']['kind'] == 'cpu_peak_rss' and results['memory']['peak_bytes'] > 0
    assert results['last_loss']['loss'] > 0


def test_benchmark_flops_of_the_tiny_model_by_hand(bench):
    # Tiny LM: h 64, ffn 128, 4 layers, vocab 515; 1 cross-attn block (inner 64, ff 128,
    # 8 latents from a 32-wide tower); LoRA r 16. T = 256 tokens (VL + lang), 128 VL.
    frozen_tokenwise = 4 * (4 * 64 * 64 + 3 * 64 * 128) + 64 * 515  # layers + lm_head
    lora_self = 4 * 4 * 16 * (64 + 64)
    xattn_frozen, xattn_lora = 2 * 64 * 64 + 2 * 64 * 128, 2 * 16 * 128 + 2 * 16 * 192
    expected = (4 * frozen_tokenwise * 256 + 6 * lora_self * 256
                + 4 * xattn_frozen * 128 + 6 * xattn_lora * 128
                + 4 * (32 * 128) * 8 + 6 * 16 * (32 + 128) * 8)  # to_kv on the 8 latents
    flops = bench[0]['model_flops_per_iter_per_rank']
    assert flops['lm_linear'] == expected == 272_556_032
    assert flops['attention'] == 12 * 4 * 64 * 128 ** 2 * 2 + 12 * 128 * 8 * 64


def test_memory_estimate_matches_the_benchmarks_measurement(bench, tmp_path):
    """Parameters exactly; activations kept for backward within 5% of the bytes autograd
    saved in the benchmark's first iteration (fp32, no checkpointing)."""
    measured = bench[0]['memory']
    est = _tool('memory_estimate').main([
        TINY_CONFIG, '--engine', 'ddp', '--precision', 'fp32', '--overhead-gb', '0',
        '--no-checkpointing', '--json-out', str(tmp_path / 'est.json')])[0]
    assert est['params']['frozen'] == measured['frozen_params']
    assert est['params']['trainable'] == measured['trainable_params']
    assert est['items']['frozen_weights'] == measured['frozen_bytes']
    ratio = est['activations']['total'] / measured['saved_activation_bytes_first_iter']
    assert 0.95 < ratio < 1.05, ratio


def test_memory_estimate_engines_order_and_checkpointing(capsys):
    joint = str(REPO / 'configs' / 'mmgpt_joint.py')
    tool = _tool('memory_estimate')
    plain = {e['engine']: e for e in tool.main([joint, '--no-checkpointing'])}
    assert 'COMPUTED ESTIMATES' in capsys.readouterr().out
    ckpt = {e['engine']: e for e in tool.main([joint, '--checkpointing'])}
    # 8.2B frozen params at 2 bytes; sharded engines hold 1/8 of them
    assert plain['ddp']['params']['frozen'] == pytest.approx(8.22e9, rel=0.01)
    assert plain['zero3']['total'] < plain['zero2']['total'] <= plain['ddp']['total']
    assert plain['fsdp']['items']['frozen_weights'] == plain['ddp']['items']['frozen_weights'] / 8
    for engine in plain:
        assert ckpt[engine]['activations']['total'] < plain[engine]['activations']['total'] / 3
        assert ckpt[engine]['longest_seq_that_fits'] > plain[engine]['longest_seq_that_fits']
