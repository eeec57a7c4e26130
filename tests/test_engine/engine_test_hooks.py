"""Hooks used only by the engine tests (imported through ``custom_imports``)."""
import os
import signal

import torch
import torch.distributed as dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmgpt.registry import HOOKS


@HOOKS.register_module(force=True)
class DumpTrainableHook(Hook):
    """Save this rank's trainable weights and world size to work_dir at the end."""

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        state['__world_size__'] = torch.tensor(dist.get_world_size()
                                               if dist.is_initialized() else 1)
        state['__iter__'] = torch.tensor(runner.iter)
        rank = dist.get_rank() if dist.is_initialized() else 0
        torch.save(state, os.path.join(runner.work_dir, f'trainable_rank{rank}.pth'))


@HOOKS.register_module(force=True)
class SigkillAtIterHook(Hook):
    """Kill the process with SIGKILL (no clean-up, no save) after ``iteration`` iters."""

    priority = 'LOWEST'

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.iteration:
            os.kill(os.getpid(), signal.SIGKILL)
