"""Write the trained weights to a safetensors file when training ends."""
from __future__ import annotations

import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmgpt.models.weights import save_weights_file
from mmgpt.registry import HOOKS

__all__ = ['ExportWeightsHook']


@HOOKS.register_module()
class ExportWeightsHook(Hook):
    """After training, save ``model.state_dict()`` as a crash-safe ``.safetensors`` file.

    For MultiModalGPT that is its trainable weights (LoRA and ``unfrozen``); the demo's
    stages hand their results to the next stage this way (stage 0's CLIP, stage 1's
    OpenFlamingo, stage 2's LoRA). A resumed run that had already finished exports again.

    Args:
        filename (str): The file, relative to the work dir (or absolute); must end in
            ``.safetensors``.
        strip_prefix (str): Removed from the start of every key that has it (e.g.
            ``'clip.'`` to write an open_clip state dict). Defaults to ``''``.
    """

    priority = 'LOWEST'

    def __init__(self, filename: str, strip_prefix: str = '') -> None:
        if not filename.endswith('.safetensors'):
            raise ValueError(f'ExportWeightsHook writes .safetensors, got {filename!r}')
        self.filename = filename
        self.strip_prefix = strip_prefix

    def after_train(self, runner) -> None:
        """Export the final weights (main process only)."""
        if not is_main_process():
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        n = len(self.strip_prefix)
        state = {k[n:] if n and k.startswith(self.strip_prefix) else k: v.detach().cpu()
                 for k, v in model.state_dict().items()}
        path = osp.join(runner.work_dir, self.filename)
        save_weights_file(state, path)
        runner.logger.info(f'exported {len(state)} tensors to {path}')
