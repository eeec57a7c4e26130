"""End-to-end training runs of tools/train.py and the launchers, on CPU, tiny model."""
import signal
import socket
import subprocess

import pytest
import torch
from engine_fixtures import (
    JOINT_CONFIG,
    REPO,
    TINY_CONFIG,
    load_dump,
    max_abs_diff,
    run,
    run_env,
    train_cmd,
    write_data_tree,
    write_test_config,
)

CHECKPOINT_KEYS = {'meta', 'state_dict', 'message_hub', 'optimizer', 'param_schedulers',
                   'rng_state'}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def single_run(tmp_path_factory):
    """One plain ``python tools/train.py <tiny config>`` run (no dist env vars)."""
    root = tmp_path_factory.mktemp('single')
    sizes = write_data_tree(root, per_dataset=3)
    proc = run(train_cmd(TINY_CONFIG, root / 'wd'), cwd=root)
    return root, sizes, proc


def test_single_process_needs_no_dist_env(single_run):
    root, sizes, proc = single_run
    last = (root / 'wd' / 'last_checkpoint').read_text()
    assert last.endswith(f"iter_{sizes['vl']}.pth")
    log = proc.stdout + proc.stderr
    for key in ('loss_vl', 'loss_lang', 'lr', 'grad_norm', 'tokens_per_sec', 'data_time',
                'eta'):
        assert f'{key}:' in log, key
    assert 'chat @ iter 16 [data/coco/train2017/000000000000.jpg]' in log  # EvaluateChatHook


def test_checkpoint_holds_trainable_weights_and_training_state(single_run):
    from mmgpt.testing import build_tiny

    root, sizes, _ = single_run
    ckpt = torch.load(root / 'wd' / f"iter_{sizes['vl']}.pth", weights_only=True)
    assert set(ckpt) == CHECKPOINT_KEYS
    model = build_tiny()
    assert list(ckpt['state_dict']) == list(model.trainable_parameter_names())
    assert all('lora_' in k for k in ckpt['state_dict'])
    num_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert sum(v.numel() for v in ckpt['state_dict'].values()) == num_trainable
    optim_params = sum(len(g['params']) for g in ckpt['optimizer']['param_groups'])
    assert optim_params == len(ckpt['state_dict'])
    assert set(ckpt['rng_state']) >= {'python', 'numpy', 'torch'}
    model.load_state_dict(ckpt['state_dict'], strict=True)


def test_checkpoints_pruned_to_max_keep(single_run):
    root, sizes, _ = single_run
    kept = sorted(p.name for p in (root / 'wd').glob('iter_*.pth'))
    assert kept == sorted(['iter_16.pth', f"iter_{sizes['vl']}.pth"])  # max_keep_ckpts=2
    assert not list((root / 'wd').glob('.*.tmp'))


@pytest.mark.slow
def test_sigkill_and_resume_matches_uninterrupted_run(tmp_path):
    sizes = write_data_tree(tmp_path, per_dataset=7)  # 49 iterations
    total = sizes['vl']
    keep = 'default_hooks = dict(checkpoint=dict(max_keep_ckpts=5))'
    cfg = write_test_config(tmp_path / 'dump.py', extra=keep)
    killed_cfg = write_test_config(tmp_path / 'killed.py', kill_at=24, extra=keep)
    run(train_cmd(cfg, tmp_path / 'full'), cwd=tmp_path)

    proc = subprocess.run(train_cmd(killed_cfg, tmp_path / 'resumed'), cwd=tmp_path,
                          env=run_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert (tmp_path / 'resumed' / 'last_checkpoint').read_text().endswith('iter_16.pth')
    assert not (tmp_path / 'resumed' / 'trainable_rank0.pth').exists()

    resumed = run(train_cmd(cfg, tmp_path / 'resumed', '--resume'), cwd=tmp_path)
    assert 'resumed epoch: 0, iter: 16' in resumed.stdout + resumed.stderr
    full, again = load_dump(tmp_path / 'full'), load_dump(tmp_path / 'resumed')
    assert int(full['__iter__']) == int(again['__iter__']) == total
    at_16 = torch.load(tmp_path / 'full' / 'iter_16.pth', weights_only=True)['state_dict']
    trained = {k: v for k, v in full.items() if not k.startswith('__')}
    assert max_abs_diff(trained, at_16) > 1e-4  # later updates moved the weights
    assert max_abs_diff(full, again) <= 1e-6


@pytest.mark.slow
def test_dist_train_sh_two_cpu_processes_agree(tmp_path):
    sizes = write_data_tree(tmp_path, per_dataset=3)
    cfg = write_test_config(tmp_path / 'dump.py')
    run(['bash', str(REPO / 'tools' / 'dist_train.sh'), cfg, '2', '--work-dir',
         str(tmp_path / 'wd')], cwd=tmp_path, timeout=180, PORT=_free_port(),
        PYTHON=_python())
    rank0, rank1 = load_dump(tmp_path / 'wd', 0), load_dump(tmp_path / 'wd', 1)
    assert int(rank0['__world_size__']) == 2
    assert int(rank0['__iter__']) == -(-sizes['vl'] // 2)  # each rank: half the epoch
    assert max_abs_diff(rank0, rank1) == 0.0


@pytest.mark.slow
def test_two_torchrun_nodes_on_loopback(tmp_path):
    write_data_tree(tmp_path, per_dataset=2)
    cfg = write_test_config(tmp_path / 'dump.py')
    port = _free_port()
    procs = [subprocess.Popen(
        ['bash', str(REPO / 'tools' / 'dist_train.sh'), cfg, '1', '--work-dir',
         str(tmp_path / f'node{rank}')], cwd=tmp_path,
        env=run_env(NNODES=2, NODE_RANK=rank, MASTER_ADDR='127.0.0.1', PORT=port,
                    PYTHON=_python()),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for rank in (0, 1)]
    outputs = [p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    node0, node1 = load_dump(tmp_path / 'node0', 0), load_dump(tmp_path / 'node1', 1)
    assert int(node0['__world_size__']) == int(node1['__world_size__']) == 2
    assert max_abs_diff(node0, node1) == 0.0


def _python() -> str:
    import sys
    return sys.executable


def test_dist_train_sh_passes_exit_status(tmp_path):
    proc = subprocess.run(['bash', str(REPO / 'tools' / 'dist_train.sh'),
                           str(tmp_path / 'missing.py'), '1'], cwd=tmp_path,
                          env=run_env(PORT=_free_port(), PYTHON=_python()),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0


@pytest.mark.slow
def test_joint_config_runs_with_tiny_model_via_cfg_options(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    from mmgpt.tokenizer import build_tokenizer

    sizes = write_data_tree(tmp_path, per_dataset=1)
    llama_dir = tmp_path / 'checkpoints' / 'llama-7b_hf'  # the path the config names
    tokenizer = build_tokenizer(dict(type='tiny_bpe', vocab_size=512))
    tokenizer.save_pretrained(llama_dir)
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(
        hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=4, vocab_size=len(tokenizer))).save_pretrained(llama_dir)
    options = [
        'model.pretrained=None', 'model.vision_encoder.name=ViT-S-32',
        'model.vision_encoder.pretrained=None',
        # a byte-level BPE stands in for LLaMA's sentencepiece: no 2023 LLaMA encoding
        'model.tokenizer.historical=False',
        # the pipeline and the collate take the tower, tokenizer and pad id from the model
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'train_dataloader.pin_memory=False',
    ]
    run(train_cmd(JOINT_CONFIG, tmp_path / 'wd', '--cfg-options', *options), cwd=tmp_path,
        timeout=240)
    ckpt = torch.load(tmp_path / 'wd' / f"iter_{sizes['vl']}.pth", weights_only=True)
    assert ckpt['meta']['iter'] == sizes['vl']
