"""Thread caps: processes x threads <= cores, overridable; data workers single-threaded."""
import torch
from torch.utils.data import DataLoader, Dataset

from mmgpt.utils import threads


class _ThreadCount(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, idx):
        return torch.get_num_threads()


def _clean(monkeypatch, cores=8, load=0.0):
    for name in ('MMGPT_NUM_THREADS', 'OMP_NUM_THREADS', 'LOCAL_WORLD_SIZE'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(threads, 'available_cores', lambda: cores)
    monkeypatch.setattr(threads, '_load', lambda: load)


def test_cores_are_shared_by_the_processes_of_the_node(monkeypatch):
    _clean(monkeypatch)
    assert threads.default_num_threads() == 8
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '4')
    assert threads.default_num_threads() == 2
    assert threads.default_num_threads(processes=16) == 1


def test_busy_machine_gets_fewer_threads(monkeypatch):
    _clean(monkeypatch, cores=2, load=9.5)
    assert threads.default_num_threads() == 1
    _clean(monkeypatch, cores=8, load=3.2)
    assert threads.default_num_threads() == 4


def test_overrides(monkeypatch):
    _clean(monkeypatch, cores=2, load=9.5)
    monkeypatch.setenv('OMP_NUM_THREADS', '3')
    assert threads.default_num_threads() == 3
    monkeypatch.setenv('MMGPT_NUM_THREADS', '5')
    assert threads.default_num_threads() == 5
    before = torch.get_num_threads()
    try:
        assert threads.set_torch_threads(2) == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_data_workers_run_single_threaded():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        loader = DataLoader(_ThreadCount(), num_workers=2, batch_size=None)
        assert list(loader) == [1, 1]
    finally:
        torch.set_num_threads(before)
