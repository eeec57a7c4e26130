"""``MMGPTRunner`` and ``MMGPTFlexibleRunner``: MMEngine's runners with the fixes a
trainable-only model and its model-declared pipeline need."""
from __future__ import annotations

import copy
import re

import torch
from mmengine.model import is_model_wrapper
from mmengine.runner import CheckpointLoader, FlexibleRunner, Runner

from mmgpt.datasets import bind_model_config
from mmgpt.models import load_weights_file
from mmgpt.registry import RUNNERS

from .dist import init_cpu_dist
from .resume import check_checkpoint_readable, find_resume_checkpoint

__all__ = ['MMGPTRunner', 'MMGPTFlexibleRunner']


class _ModelBoundDataloaders:
    """``build_dataloader`` that binds the pipeline to the model config first.

    The model config declares the tokenizer, template and vision encoder once
    (:func:`mmgpt.datasets.bind_model_config` gives them to the pipeline), so every
    runner that builds our datasets needs this. (MMEngine's ``build_dataloader`` is a
    static method; its loops call it on the runner instance.)
    """

    def build_dataloader(self, dataloader, seed: int | None = None,
                         diff_rank_seed: bool = False):
        """Bind the pipeline to the model config, then build as MMEngine does."""
        model_cfg = self.cfg.get('model')
        if isinstance(dataloader, dict) and isinstance(model_cfg, dict):
            dataloader = bind_model_config(dataloader, model_cfg)
        return super().build_dataloader(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)


@RUNNERS.register_module()
class MMGPTRunner(_ModelBoundDataloaders, Runner):
    """MMEngine's ``Runner`` with narrow overrides of public methods.

    * :meth:`load_checkpoint` (used by ``load_from`` and resume) hands the weights to
      the model's own ``load_state_dict(strict=True)``. MMEngine's loader walks every
      submodule with ``_load_from_state_dict`` and would report each frozen weight as
      missing, whereas our checkpoints hold only the trainable weights and the model
      checks exactly those keys, naming any unknown or missing one.
    * :meth:`build_dataloader` gives the pipeline the model config's tokenizer, template
      and vision encoder (:func:`mmgpt.datasets.bind_model_config`): they are declared
      once, in ``model``.
    * :meth:`setup_env` initialises a gloo process group when launched without CUDA,
      where MMEngine's ``init_dist`` fails (see :func:`mmgpt.engine.init_cpu_dist`).
    * :meth:`wrap_model` uses ``device_ids=None`` for DDP on CPU. (Half-precision frozen
      weights are the model's own argument, ``model.frozen_dtype``.)
    * :meth:`resume` sets :attr:`resuming` while it loads, so that the checkpoint hook
      hands the saved RNG state to the train loop only on resume (not on ``load_from``).
    * :meth:`load_or_resume` picks the checkpoint of ``--resume`` with
      :func:`mmgpt.engine.resume.find_resume_checkpoint` (``last_checkpoint`` relative to
      the work dir; an unreadable latest checkpoint is named and the newest readable one
      used) and checks that a given one is readable before anything is built from it.
    """

    #: True while :meth:`resume` loads a checkpoint.
    resuming = False

    #: MMGPTCheckpointHook writes ``last_checkpoint`` relative to the work dir for us.
    resolves_relative_checkpoint_pointer = True

    def load_or_resume(self) -> None:
        """Resolve the checkpoint to resume from, then load or resume as MMEngine does."""
        if not self._has_loaded and self._resume:
            if self._load_from is None:
                self._load_from = find_resume_checkpoint(self.work_dir)
                if self._load_from is None:
                    self.logger.info(f'--resume: no checkpoint in {self.work_dir}; '
                                     'starting from scratch')
                    self._resume = False
                else:
                    self.logger.info(f'Auto resumed from the latest checkpoint {self._load_from}.')
            elif '://' not in self._load_from:  # a local file (URLs are MMEngine's)
                check_checkpoint_readable(self._load_from)
        self.resume_checkpoint = self._load_from if self._resume else None
        super().load_or_resume()

    def setup_env(self, env_cfg: dict) -> None:
        """Initialise gloo on CPU-only machines, then set up as MMEngine does."""
        if self.distributed:
            init_cpu_dist(self.launcher)
        super().setup_env(env_cfg)

    def wrap_model(self, model_wrapper_cfg, model):
        """Wrap as MMEngine does (``device_ids=None`` for DDP on CPU)."""
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
            # MMEngine's public loader (local files, URLs, other backends); torch's
            # weights_only default applies (the checkpoint hook stores no pickled class)
            checkpoint = CheckpointLoader.load_checkpoint(filename, map_location=map_location)
            if not isinstance(checkpoint, dict):
                raise TypeError(f'{filename} holds a {type(checkpoint).__name__}, not a checkpoint '
                                'dict')
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        state_dict = checkpoint.get('state_dict', checkpoint)
        for pattern, replacement in revise_keys or [(r'^module\.', '')]:
            state_dict = {re.sub(pattern, replacement, k): v for k, v in state_dict.items()}
        model.load_state_dict(state_dict, strict=strict)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename} ({len(state_dict)} tensors)')
        return checkpoint

    def resume(self, filename: str, resume_optimizer: bool = True,
               resume_param_scheduler: bool = True, map_location='default') -> None:
        """Resume as MMEngine does, with :attr:`resuming` set while loading."""
        self.resuming = True
        try:
            super().resume(filename, resume_optimizer=resume_optimizer,
                           resume_param_scheduler=resume_param_scheduler,
                           map_location=map_location)
        finally:
            self.resuming = False


@RUNNERS.register_module()
class MMGPTFlexibleRunner(_ModelBoundDataloaders, FlexibleRunner):
    """MMEngine's ``FlexibleRunner`` (a config with a ``strategy``: DeepSpeed, FSDP)
    whose dataloaders get the model config's tokenizer, template and vision encoder, as
    :class:`MMGPTRunner`'s do. Checkpoints, resume and the CPU process group are the
    strategies' (:mod:`mmgpt.engine.strategies`)."""
