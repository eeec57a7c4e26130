"""``MMGPTRunner``: MMEngine's Runner with the fixes a trainable-only model needs."""
from __future__ import annotations

import copy
import re

import torch
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint

from mmgpt.models import load_weights_file
from mmgpt.registry import RUNNERS

from .dist import init_cpu_dist
from .precision import cast_frozen_to

__all__ = ['MMGPTRunner']


@RUNNERS.register_module()
class MMGPTRunner(Runner):
    """MMEngine's ``Runner`` with three narrow overrides.

    * :meth:`load_checkpoint` (used by ``load_from`` and resume) hands the weights to
      the model's own ``load_state_dict(strict=True)``. MMEngine's loader walks every
      submodule with ``_load_from_state_dict`` and would report each frozen weight as
      missing, whereas our checkpoints hold only the trainable weights and the model
      checks exactly those keys, naming any unknown or missing one.
    * :meth:`setup_env` initialises a gloo process group when launched without CUDA,
      where MMEngine's ``init_dist`` fails (see :func:`mmgpt.engine.init_cpu_dist`).
    * :meth:`wrap_model` casts the frozen weights to ``cfg.frozen_dtype`` (set by
      ``tools/train.py --amp`` on GPU) *before* the model is moved to the device, and
      uses ``device_ids=None`` for DDP on CPU.
    """

    def setup_env(self, env_cfg: dict) -> None:
        """Initialise gloo on CPU-only machines, then set up as MMEngine does."""
        if self.distributed:
            init_cpu_dist(self.launcher)
        super().setup_env(env_cfg)

    def wrap_model(self, model_wrapper_cfg, model):
        """Cast frozen weights if asked, then wrap (``device_ids=None`` on CPU)."""
        frozen_dtype = self.cfg.get('frozen_dtype', None)
        if frozen_dtype is not None and not is_model_wrapper(model):
            cast_frozen_to(model, frozen_dtype)
        if self.distributed and not torch.cuda.is_available():
            model_wrapper_cfg = copy.deepcopy(model_wrapper_cfg) or dict(
                type='MMDistributedDataParallel', broadcast_buffers=False,
                find_unused_parameters=self.cfg.get('find_unused_parameters', False))
            model_wrapper_cfg['device_ids'] = None
        return super().wrap_model(model_wrapper_cfg, model)

    def load_checkpoint(self, filename: str, map_location='cpu', strict: bool = True,
                        revise_keys: list | None = None) -> dict:
        """Load a trainable-weights checkpoint strictly through the model.

        A ``.safetensors`` file (exported weights) is read with
        :func:`mmgpt.models.load_weights_file`.

        Args:
            filename (str): Checkpoint path or URL.
            map_location (str | callable): Passed to ``torch.load``. Defaults to 'cpu'.
            strict (bool): Passed to the model's ``load_state_dict``. Defaults to True
                (MMEngine's default is False, which hid wrong checkpoints).
            revise_keys (list, optional): ``(pattern, replacement)`` pairs applied to
                the keys. Defaults to stripping a leading ``module.``.

        Returns:
            dict: The whole checkpoint (meta, optimizer, ...), for resume.
        """
        if filename.endswith('.safetensors'):  # exported weights (tools/demo.py, export)
            checkpoint = {'state_dict': load_weights_file(filename)}
        else:
            checkpoint = _load_checkpoint(filename, map_location=map_location)  # weights_only
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        state_dict = checkpoint.get('state_dict', checkpoint)
        for pattern, replacement in revise_keys or [(r'^module\.', '')]:
            state_dict = {re.sub(pattern, replacement, k): v for k, v in state_dict.items()}
        model.load_state_dict(state_dict, strict=strict)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename} ({len(state_dict)} tensors)')
        return checkpoint
