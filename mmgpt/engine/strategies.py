"""DeepSpeed ZeRO and FSDP through MMEngine's ``FlexibleRunner``, with our checkpoints.

MMEngine's ``DeepSpeedStrategy`` writes a DeepSpeed directory per checkpoint (one file
of optimizer shards per rank) and its ``FSDPStrategy`` writes one file per rank or the
whole model: neither is the trainable-only file that ``tools/chat.py`` reads and that
``--resume`` continues from under DDP. The two strategies here keep MMEngine's engines
and change only what a checkpoint is:

* one file, written by rank 0 (``MMGPTCheckpointHook`` renames it into place), holding
  ``state_dict`` (the trainable weights, gathered to full fp32 tensors, with the same
  names as :meth:`MultiModalGPT.state_dict`), ``optimizer`` (the optimizer state of
  those weights, gathered and keyed by parameter name, see :func:`optimizer_layout`),
  ``param_schedulers``, ``meta``, ``message_hub`` and ``rng_state``;
* resume loads it on every rank and scatters weights and optimizer state back into the
  engine's shards; ``load_from`` loads only the weights.

Under ZeRO-3 and FSDP the gathering is collective: every rank calls
:meth:`save_checkpoint`, as ``CheckpointHook`` does.

Both also initialise a gloo process group on machines without CUDA (MMEngine's
``init_dist`` cannot), so that they run, and are tested, on CPU.
"""
from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from functools import partial

import mmengine
import torch
import torch.distributed as torch_dist
from mmengine._strategy import DeepSpeedStrategy, FSDPStrategy
from mmengine.dist import is_main_process
from mmengine.runner import CheckpointLoader
from mmengine.runner.checkpoint import save_checkpoint
from torch import nn

from mmgpt.models.flamingo_lm import MMGPTFlamingoLayer
from mmgpt.models.weights import check_keys
from mmgpt.registry import STRATEGIES

from .dist import init_cpu_dist
from .precision import cast_frozen_to

__all__ = ['MMGPTDeepSpeedStrategy', 'MMGPTFSDPStrategy', 'sharded_clip_grad_norm_',
           'fsdp_unit_policy', 'optimizer_layout', 'deepspeed_optim_wrapper']

#: Optimizer state tensors kept per parameter (AdamW); others are not carried over.
ADAM_STATE_KEYS = ('exp_avg', 'exp_avg_sq')


def optimizer_layout(state: dict, param_groups: list[dict], step: int) -> dict:
    """The engine-independent optimizer part of a checkpoint.

    Args:
        state (dict): ``{parameter name: {'exp_avg': tensor, 'exp_avg_sq': tensor}}``.
        param_groups (list[dict]): Hyper-parameters of each group (``lr``,
            ``weight_decay``, ...) and its parameter ``names``.
        step (int): Optimizer updates done so far (AdamW's bias correction).

    Returns:
        dict: ``dict(format='mmgpt-gathered', step=..., state=..., param_groups=...)``.
    """
    return dict(format='mmgpt-gathered', step=int(step), state=state,
                param_groups=param_groups)


def _group_hparams(optimizer: torch.optim.Optimizer, names: dict[int, str]) -> list[dict]:
    """Each param group's hyper-parameters and its parameters' names."""
    groups = []
    for group in optimizer.param_groups:
        hp = {k: v for k, v in group.items() if k not in ('params', 'names')}
        hp['names'] = [names[id(p)] for p in group['params'] if id(p) in names]
        groups.append(hp)
    return groups


def _load_group_hparams(optimizer: torch.optim.Optimizer, groups: list[dict]) -> None:
    """Restore lr, weight decay... of each group (the schedulers' state is separate)."""
    if len(groups) != len(optimizer.param_groups):
        raise ValueError(f'checkpoint has {len(groups)} optimizer param groups, the '
                         f'optimizer {len(optimizer.param_groups)}')
    for group, saved in zip(optimizer.param_groups, groups):
        group.update({k: v for k, v in saved.items() if k != 'names'})


def _unwrapped(model: nn.Module) -> nn.Module:
    """The ``MultiModalGPT`` inside MMEngine/DeepSpeed/FSDP wrappers."""
    while hasattr(model, 'module') and isinstance(model.module, nn.Module):
        model = model.module
    return model


def _ensure_process_group(backend: str) -> None:
    """A one-process group for a run started without a launcher (DeepSpeed needs one)."""
    if torch_dist.is_initialized():
        return
    os.environ.setdefault('RANK', '0')
    os.environ.setdefault('LOCAL_RANK', '0')
    os.environ.setdefault('WORLD_SIZE', '1')
    os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
    if 'MASTER_PORT' not in os.environ:
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            os.environ['MASTER_PORT'] = str(s.getsockname()[1])
    torch_dist.init_process_group(backend=backend)


class _TrainableCheckpointMixin:
    """Save/resume/load of the one-file trainable checkpoint; engines fill in 4 methods."""

    # -- engine-specific ---------------------------------------------------------
    def _gather_trainable(self) -> dict[str, torch.Tensor]:
        """Full fp32 trainable weights by canonical name (collective)."""
        raise NotImplementedError

    def _scatter_trainable(self, state: dict[str, torch.Tensor]) -> None:
        """Write full trainable weights into the engine (collective)."""
        raise NotImplementedError

    def _gather_optimizer(self) -> dict:
        """:func:`optimizer_layout` of the current optimizer state (collective)."""
        raise NotImplementedError

    def _scatter_optimizer(self, state: dict) -> None:
        """Inverse of :meth:`_gather_optimizer` (collective)."""
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------
    def _trainable_names(self) -> tuple[str, ...]:
        return tuple(_unwrapped(self.model).trainable_parameter_names())

    def _check_state_dict(self, state: dict, filename: str) -> dict:
        state = {k[len('module.'):] if k.startswith('module.') else k: v
                 for k, v in state.items()}
        check_keys(self._trainable_names(), state.keys(), filename)
        return state

    def save_checkpoint(self, filename: str, *, save_optimizer: bool = True,
                        save_param_scheduler: bool = True, extra_ckpt: dict | None = None,
                        callback: Callable | None = None) -> None:
        """Gather and write the one-file checkpoint (every rank calls; rank 0 writes).

        Args:
            filename (str): The file.
            save_optimizer (bool): Include the gathered optimizer state. Defaults to True.
            save_param_scheduler (bool): Include the schedulers. Defaults to True.
            extra_ckpt (dict, optional): ``meta``, ``message_hub``... from the runner.
            callback (callable, optional): ``before_save_checkpoint`` hooks.
        """
        checkpoint = dict(extra_ckpt or {})
        checkpoint.setdefault('meta', {})
        checkpoint['meta'].update(seed=self.seed, engine=type(self).__name__,
                                  time=time.strftime('%Y%m%d_%H%M%S', time.localtime()),
                                  mmengine=mmengine.__version__)
        checkpoint['state_dict'] = self._gather_trainable()
        if save_optimizer and hasattr(self, 'optim_wrapper'):
            checkpoint['optimizer'] = self._gather_optimizer()
            base = getattr(self.optim_wrapper, 'base_param_settings', None)
            if base is not None:  # MMEngine's base lr record (several param groups)
                checkpoint['optimizer']['base_param_settings'] = {
                    k: v for k, v in base.items() if k != 'params'}
        if save_param_scheduler and hasattr(self, 'param_schedulers'):
            checkpoint['param_schedulers'] = self.scheduler_state_dict()
        if callback is not None:
            callback(checkpoint)
        if is_main_process():
            save_checkpoint(checkpoint, filename)
        if torch_dist.is_initialized():
            torch_dist.barrier()

    def load_checkpoint(self, filename: str, *, map_location='cpu', strict: bool = True,
                        revise_keys: list | None = None,
                        callback: Callable | None = None) -> dict:
        """Load the trainable weights of a checkpoint (``load_from``), strictly.

        Args:
            filename (str): A checkpoint of any engine, or a trainable-weights file.
            map_location: Ignored (loaded to CPU, then scattered).
            strict (bool): Ignored: loading is always strict on the trainable keys.
            revise_keys (list, optional): Ignored; a ``module.`` prefix is removed.
            callback (callable, optional): ``after_load_checkpoint`` hooks.

        Returns:
            dict: The checkpoint.
        """
        checkpoint = CheckpointLoader.load_checkpoint(filename, map_location='cpu')
        if callback is not None:
            callback(checkpoint)
        state = checkpoint.get('state_dict', checkpoint)
        self._scatter_trainable(self._check_state_dict(state, filename))
        self.logger.info(f'Loaded {len(state)} trainable tensors from {filename}')
        return checkpoint

    def resume(self, filename: str, *, resume_optimizer: bool = True,
               resume_param_scheduler: bool = True, map_location='default',
               callback: Callable | None = None) -> dict:
        """Restore weights, optimizer, schedulers and seed from a one-file checkpoint.

        Args:
            filename (str): The checkpoint.
            resume_optimizer (bool): Restore the optimizer state. Defaults to True.
            resume_param_scheduler (bool): Restore the schedulers. Defaults to True.
            map_location: Ignored (loaded to CPU, then scattered).
            callback (callable, optional): ``after_load_checkpoint`` hooks.

        Returns:
            dict: The checkpoint (the runner reads ``meta`` and ``message_hub``).
        """
        self.logger.info(f'Resume checkpoint from {filename}')
        checkpoint = self.load_checkpoint(filename, callback=callback)
        if resume_optimizer:
            optim = checkpoint.get('optimizer')
            if not isinstance(optim, dict) or optim.get('format') != 'mmgpt-gathered':
                raise ValueError(
                    f'{filename}: no gathered optimizer state (written by another engine?); '
                    f'resume it with the engine that wrote it ({checkpoint["meta"].get("engine", "MMGPTRunner (DDP)")}), '  # noqa: E501
                    'or start a new run from its weights with load_from')
            self._scatter_optimizer(optim)
            base = getattr(self.optim_wrapper, 'base_param_settings', None)
            if base is not None and 'base_param_settings' in optim:
                base.update(optim['base_param_settings'])
        if resume_param_scheduler and hasattr(self, 'param_schedulers'):
            self.load_scheduler_state_dict(checkpoint['param_schedulers'])
        resumed_seed = checkpoint['meta'].get('seed')
        if resumed_seed is not None and resumed_seed != self._randomness.get('seed'):
            self._randomness.update(seed=resumed_seed)
            self._set_randomness(**self._randomness)
        return checkpoint


# --------------------------------------------------------------------- DeepSpeed
def deepspeed_optim_wrapper(optim_wrapper: dict, ds_config: dict,
                            explicit: dict | None = None) -> tuple[dict, dict]:
    """The schedule's ``optim_wrapper`` as DeepSpeed runs it.

    DeepSpeed steps, accumulates and clips itself, so MMEngine needs a
    ``DeepSpeedOptimWrapper`` there and the accumulation and clipping in DeepSpeed's
    config. This keeps the schedule's optimizer, constructor and ``paramwise_cfg``, and
    moves ``accumulative_counts`` to ``gradient_accumulation_steps`` and
    ``clip_grad.max_norm`` to ``gradient_clipping``, so that a strategy piece
    (``configs/_base_/strategies/deepspeed_zero*.py``) added to any training config
    trains with that config's recipe. A wrapper already of type
    ``DeepSpeedOptimWrapper`` is returned as it is.

    Args:
        optim_wrapper (dict): The config's ``optim_wrapper``.
        ds_config (dict): The DeepSpeed config to complete (not modified).
        explicit (dict, optional): Settings the strategy config gave itself
            (``gradient_accumulation_steps``, ``gradient_clipping``); they must agree
            with the schedule's. Defaults to None.

    Returns:
        tuple[dict, dict]: The optimizer wrapper config and the DeepSpeed config.

    Raises:
        ValueError: A value clipping (DeepSpeed clips the norm only), a wrapper type
            DeepSpeed cannot replace, or a strategy setting that contradicts the schedule.
    """
    wrapper, ds_config, explicit = dict(optim_wrapper), dict(ds_config), explicit or {}
    kind = wrapper.get('type', 'OptimWrapper')
    if kind == 'DeepSpeedOptimWrapper':
        return wrapper, ds_config
    if kind not in ('OptimWrapper', 'AmpOptimWrapper'):
        raise ValueError(f'optim_wrapper type {kind!r} cannot run under DeepSpeed: use '
                         'OptimWrapper (DeepSpeed takes over its accumulation and clipping)')
    derived = {}  # what the schedule states; the rest of the DeepSpeed config stays
    if 'accumulative_counts' in wrapper:
        derived['gradient_accumulation_steps'] = int(wrapper.pop('accumulative_counts'))
    clip = wrapper.pop('clip_grad', None)
    if clip:
        if clip.get('type', 'norm') != 'norm' or clip.get('norm_type', 2) != 2:
            raise ValueError(f'optim_wrapper.clip_grad={dict(clip)}: DeepSpeed clips the L2 '
                             'norm of the gradients only (gradient_clipping)')
        derived['gradient_clipping'] = float(clip['max_norm'])
    for key, value in derived.items():
        if explicit.get(key) is not None and explicit[key] != value:
            raise ValueError(f'strategy.{key}={explicit[key]} contradicts the schedule\'s '
                             f'{value} (optim_wrapper): set one of them')
    ds_config.update(derived)
    for key in ('dtype', 'loss_scale'):  # AmpOptimWrapper's: DeepSpeed's bf16/fp16 decide
        wrapper.pop(key, None)
    wrapper['type'] = 'DeepSpeedOptimWrapper'
    return wrapper, ds_config


@STRATEGIES.register_module()
class MMGPTDeepSpeedStrategy(_TrainableCheckpointMixin, DeepSpeedStrategy):
    """MMEngine's ``DeepSpeedStrategy`` (ZeRO 0-3), with one-file trainable checkpoints.

    The optimizer is built by the config's constructor (trainable parameters only) and
    handed to ``deepspeed.initialize``; with ``bf16`` DeepSpeed stores the whole module
    in bf16 (frozen weights included) and keeps fp32 master copies of the trainable
    ones in the optimizer. Checkpoints gather those fp32 masters and AdamW's moments
    with DeepSpeed's public ``deepspeed.utils.safe_get_full_*`` functions, and resume
    writes them back with ``safe_set_full_*`` (and the bf16 copies the forward uses).

    The config's ordinary ``optim_wrapper`` is turned into a ``DeepSpeedOptimWrapper``
    with the schedule's accumulation and clipping moved into DeepSpeed's config
    (:func:`deepspeed_optim_wrapper`).

    Args:
        **kwargs: ``DeepSpeedStrategy``'s arguments (``zero_optimization``, ``bf16``...).
    """

    def __init__(self, **kwargs) -> None:
        self._explicit = {k: kwargs.get(k) for k in ('gradient_accumulation_steps',
                                                     'gradient_clipping')}
        try:
            super().__init__(**kwargs)
        except ModuleNotFoundError as err:
            # MMEngine 0.10.7 registers DeepSpeed's optimizers as its last step and imports
            # deepspeed.runtime.fp16.onebit, which DeepSpeed >= 0.16 moved: everything
            # else is set up by then, and the configs use torch's AdamW.
            if 'onebit' not in str(err):
                raise

    def build_optim_wrapper(self, optim_wrapper, model=None):
        """MMEngine's, from the schedule's wrapper made DeepSpeed's."""
        if isinstance(optim_wrapper, dict):
            optim_wrapper, self.config = deepspeed_optim_wrapper(
                optim_wrapper, self.config, self._explicit)
        return super().build_optim_wrapper(optim_wrapper, model)

    def _setup_distributed(self, launcher: str | None = None, backend: str = 'nccl',
                           **kwargs) -> None:
        """gloo without CUDA (DeepSpeed's CPU accelerator), MMEngine's set-up with it."""
        import deepspeed
        if torch.cuda.is_available():
            super()._setup_distributed(launcher, backend, **kwargs)
            return
        init_cpu_dist(launcher)
        deepspeed.init_distributed(dist_backend='gloo')

    def _wrap_model(self, model: nn.Module):
        """``deepspeed.initialize`` (a one-process group first when not launched)."""
        self.config.setdefault('train_micro_batch_size_per_gpu', self.dispatch_kwargs.get(
            'train_micro_batch_size_per_gpu', 1))  # MMEngine sets it for its own class only
        if not torch_dist.is_initialized():
            import deepspeed
            _ensure_process_group('nccl' if torch.cuda.is_available() else 'gloo')
            deepspeed.init_distributed(
                dist_backend='nccl' if torch.cuda.is_available() else 'gloo')
        return super()._wrap_model(model)

    @property
    def _engine(self):
        return self.model.model  # MMDeepSpeedEngineWrapper -> DeepSpeedEngine

    def _named_trainable(self) -> list[tuple[str, nn.Parameter]]:
        params = dict(_unwrapped(self.model).named_parameters())
        return [(name, params[name]) for name in self._trainable_names()]

    def _gather_trainable(self) -> dict[str, torch.Tensor]:
        from deepspeed.utils import safe_get_full_fp32_param
        out = {}
        for name, param in self._named_trainable():
            full = safe_get_full_fp32_param(param)
            if full is None:  # no ZeRO optimizer: the parameter itself is the master
                full = param.detach()
            out[name] = full.detach().float().cpu().reshape(param.ds_shape if hasattr(
                param, 'ds_shape') else param.shape).clone()
        return out

    def _scatter_trainable(self, state: dict[str, torch.Tensor]) -> None:
        import deepspeed
        from deepspeed.utils import safe_set_full_fp32_param
        for name, param in self._named_trainable():
            value = state[name].float()
            device = get_device_of(param)
            safe_set_full_fp32_param(param, value.to(device))
            if hasattr(param, 'ds_id'):  # ZeRO-3: the bf16 copy is partitioned too
                with deepspeed.zero.GatheredParameters([param], modifier_rank=0):
                    if torch_dist.get_rank() == 0:
                        param.data.copy_(value.to(param.dtype))
            else:
                with torch.no_grad():
                    param.data.copy_(value.to(param.device, param.dtype))

    def _base_optimizer(self) -> torch.optim.Optimizer:
        optimizer = self._engine.optimizer
        return getattr(optimizer, 'optimizer', optimizer)

    def _link_optimizer_state(self) -> None:
        """Make every parameter's optimizer-state view point at a complete AdamW state.

        torch's AdamW creates its state at the first step, and DeepSpeed's ZeRO-1/2
        optimizer links each parameter's view of it (what ``safe_*_optimizer_state``
        read) right after the step of the *first* param group only, leaving the views
        of later groups empty for good (DeepSpeed 0.19.8). So: create a zero state where
        none exists yet (a resumed run, before its first step; zero moments are what
        AdamW would start from) and redo the link.
        """
        base, zero_optimizer = self._base_optimizer(), self._engine.optimizer
        # ZeRO-3 swaps its fp32 partitions into the param groups only during a step
        flats = getattr(zero_optimizer, 'fp32_partitioned_groups_flat', None) or [
            flat for group in base.param_groups for flat in group['params']]
        for flat in flats:
            state = base.state[flat]
            if not state:
                state.update(step=torch.zeros((), dtype=torch.float32),
                             exp_avg=torch.zeros_like(flat), exp_avg_sq=torch.zeros_like(flat))
        if hasattr(zero_optimizer, '_hp_optimizer_states_linked'):  # ZeRO-1/2 (private)
            zero_optimizer._hp_optimizer_states_linked = False
            zero_optimizer._lazy_init_hp_params_optimizer_state()

    def _optimizer_step(self) -> int:
        for state in self._base_optimizer().state.values():
            if 'step' in state:
                return int(state['step'])
        return 0

    def _gather_optimizer(self) -> dict:
        from deepspeed.utils import safe_get_full_optimizer_state
        self._link_optimizer_state()
        state = {}
        for name, param in self._named_trainable():
            moments = {k: safe_get_full_optimizer_state(param, k) for k in ADAM_STATE_KEYS}
            if all(v is not None for v in moments.values()):
                state[name] = {k: v.detach().float().cpu().reshape(state_shape(param)).clone()
                               for k, v in moments.items()}
        names = {id(p): n for n, p in self._named_trainable()}
        groups = _group_hparams(self._engine.optimizer, names)
        return optimizer_layout(state, groups, self._optimizer_step())

    def _scatter_optimizer(self, optim: dict) -> None:
        from deepspeed.utils import safe_set_full_optimizer_state
        self._link_optimizer_state()
        base = self._base_optimizer()
        for name, param in self._named_trainable():
            for key, value in optim['state'].get(name, {}).items():
                safe_set_full_optimizer_state(param, value.float().to(get_device_of(param)),
                                              key)
        for state in base.state.values():
            if 'step' in state:
                state['step'] = (torch.full_like(state['step'], optim['step'])
                                 if torch.is_tensor(state['step']) else optim['step'])
        _load_group_hparams(self._engine.optimizer, optim['param_groups'])


def get_device_of(param: torch.Tensor) -> torch.device:
    """The device of a parameter, or of its ZeRO-3 partition."""
    return param.ds_tensor.device if hasattr(param, 'ds_tensor') else param.device


def state_shape(param: torch.Tensor) -> torch.Size:
    """A parameter's full shape (ZeRO-3 keeps it in ``ds_shape``)."""
    return param.ds_shape if hasattr(param, 'ds_shape') else param.shape


# -------------------------------------------------------------------------- FSDP
def fsdp_unit_policy(module: nn.Module, layer_types: tuple[type, ...]) -> bool:
    """Which modules become their own FSDP unit.

    The decoder layers (``layer_types``; each holds its gated cross-attention), and
    every leaf module whose parameters all train (the LoRA A/B Linears): FSDP flattens
    the parameters of a unit into one tensor of one dtype, so the fp32 trainable
    weights must not share a unit with bf16 frozen ones.

    Args:
        module (nn.Module): A candidate.
        layer_types (tuple[type, ...]): The decoder layer classes.

    Returns:
        bool: Whether to wrap it.
    """
    if isinstance(module, layer_types):
        return True
    params = list(module.parameters(recurse=False))
    return (bool(params) and not list(module.children())
            and all(p.requires_grad for p in params))


def sharded_clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                            error_if_nonfinite: bool = False) -> torch.Tensor:
    """``clip_grad_norm_`` over gradients sharded across ranks (FSDP ``use_orig_params``).

    Each rank holds a disjoint part of every gradient; the squared norms are summed
    over ranks so that every rank clips with the same, global norm (what DDP's
    ``clip_grad_norm_`` computes on full gradients).

    Args:
        parameters (Iterable[Tensor]): This rank's parameters (shards).
        max_norm (float): Max norm of all gradients together.
        norm_type (float): Only 2.0 is supported. Defaults to 2.0.
        error_if_nonfinite (bool): Raise on a non-finite norm. Defaults to False.

    Returns:
        torch.Tensor: The global norm before clipping.
    """
    if norm_type != 2.0:
        raise ValueError('sharded_clip_grad_norm_ supports norm_type=2 only')
    grads = [p.grad for p in parameters if p.grad is not None]
    device = grads[0].device if grads else torch.device('cpu')
    square = torch.zeros((), dtype=torch.float64, device=device)
    for g in grads:
        square += g.detach().double().pow(2).sum()
    if torch_dist.is_initialized():
        torch_dist.all_reduce(square)
    total = square.sqrt().float()
    if error_if_nonfinite and not torch.isfinite(total):
        raise RuntimeError(f'the total norm of gradients is {total}')
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.detach().mul_(coef.to(g.dtype))
    return total


@STRATEGIES.register_module()
class MMGPTFSDPStrategy(_TrainableCheckpointMixin, FSDPStrategy):
    """MMEngine's ``FSDPStrategy`` with frozen weights in half precision, CPU support and
    one-file trainable checkpoints.

    * ``frozen_dtype`` casts the frozen weights before wrapping (trainable stay fp32).
    * Unless the config gives an ``auto_wrap_policy``, the decoder layers and the
      trainable leaf modules (LoRA) become FSDP units (:func:`fsdp_unit_policy`):
      the frozen weights are sharded layer by layer, LoRA weights in units of one dtype.
    * ``use_orig_params=True`` is required: the optimizer keeps the LoRA parameters
      by name (MMEngine rebuilds it over the sharded views).
    * Gradient clipping uses the global norm over the shards
      (:func:`sharded_clip_grad_norm_`); ``torch.nn.utils.clip_grad_norm_`` would clip
      each rank's shard by its own norm.
    * Without CUDA the units stay on the CPU (``device_id=None``) and gloo is used.
    * Checkpoints gather the trainable weights unit by unit (one unit unsharded at a
      time) and the optimizer state with ``FSDP.optim_state_dict`` (full, rank 0).

    Args:
        frozen_dtype (str, optional): ``'bfloat16'``/``'float16'``; None keeps fp32.
            Defaults to None.
        **kwargs: ``FSDPStrategy``'s arguments (``model_wrapper``...).
    """

    def __init__(self, *, frozen_dtype: str | None = None, **kwargs) -> None:
        kwargs.setdefault('state_dict_cfg', 'full')
        super().__init__(**kwargs)
        self.frozen_dtype = frozen_dtype

    def _setup_distributed(self, launcher: str = 'pytorch', backend: str = 'nccl',
                           **kwargs) -> None:
        """gloo without CUDA, MMEngine's set-up with it."""
        if not init_cpu_dist(launcher):
            super()._setup_distributed(launcher, backend, **kwargs)

    def _wrap_model(self, model: nn.Module):
        """Cast frozen weights, pick the units, wrap (on the CPU without CUDA)."""
        if self.frozen_dtype is not None:
            cast_frozen_to(model, self.frozen_dtype)
        # open_flamingo keeps `old_decoder_blocks` and `gated_cross_attn_layers` as second
        # paths to modules inside the decoder layers; FSDP's auto-wrap would reach the
        # already wrapped LoRA units again through them ("already wrapped"). Only
        # open_flamingo's set-up reads them: drop the aliases (canonical names stay).
        lm = _unwrapped(model).lang_encoder
        for alias in ('old_decoder_blocks', 'gated_cross_attn_layers'):
            lm._modules.pop(alias, None)
        wrapper = dict(self.model_wrapper or {})
        wrapper.setdefault('type', 'MMFullyShardedDataParallel')
        if not wrapper.setdefault('use_orig_params', True):
            raise ValueError('MMGPTFSDPStrategy needs model_wrapper.use_orig_params=True '
                             '(the LoRA parameters are optimised by name)')
        if wrapper.get('auto_wrap_policy') is None:
            from torch.distributed.fsdp.wrap import lambda_auto_wrap_policy
            wrapper['auto_wrap_policy'] = partial(
                lambda_auto_wrap_policy,
                lambda_fn=partial(fsdp_unit_policy, layer_types=(MMGPTFlamingoLayer, )))
        if not torch.cuda.is_available():
            wrapper['device_id'] = torch.device('cpu')  # FSDP accepts CPU only when named
        self.model_wrapper = wrapper
        if torch.cuda.is_available():
            return super()._wrap_model(model)
        # MMEngine's default_args put device_id=LOCAL_RANK, a CUDA index: build on CPU.
        from mmengine.registry import MODEL_WRAPPERS
        wrapped = MODEL_WRAPPERS.build(dict(wrapper, module=model))
        wrapped.set_state_dict_type(wrapped, self.state_dict_type, self.state_dict_config,
                                    self.optim_state_dict_config)
        return wrapped

    def build_optim_wrapper(self, optim_wrapper, model=None):
        """MMEngine's, then clip gradients by their global norm over the shards."""
        wrapper = super().build_optim_wrapper(optim_wrapper, model)
        if getattr(wrapper, 'clip_grad_kwargs', None) and \
                wrapper.clip_func is torch.nn.utils.clip_grad_norm_:
            wrapper.clip_func = sharded_clip_grad_norm_
        return wrapper

    # -- checkpoints -----------------------------------------------------------------
    def _units_with_trainable(self):
        """``(unit, [(canonical name, parameter)])`` for each FSDP unit owning trainable
        parameters; a unit's own parameters only (nested units are separate)."""
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        trainable = set(self._trainable_names())
        seen = set()
        for prefix, unit in self.model.named_modules():
            if not isinstance(unit, FSDP) or id(unit) in seen:
                continue
            seen.add(id(unit))
            owned = []
            for name, param in unit.named_parameters():
                if name.count('_fsdp_wrapped_module.') != 1:
                    continue  # belongs to a nested unit
                full = f'{prefix}.{name}' if prefix else name
                canonical = full.replace('_fsdp_wrapped_module.', '')
                if canonical in trainable:
                    owned.append((canonical, param))
            if owned:
                yield unit, owned

    def _each_unit_full(self, writeback: bool):
        """Yield ``(canonical name, full parameter)`` of the trainable parameters, one FSDP
        unit unsharded at a time (inside the root unit's own, which also runs FSDP's lazy
        set-up when nothing has run yet, as on resume)."""
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        with FSDP.summon_full_params(self.model, recurse=False, writeback=writeback):
            for unit, owned in self._units_with_trainable():
                if unit is self.model:
                    yield from owned
                    continue
                # use_orig_params: the same Parameter objects, holding full tensors inside
                with FSDP.summon_full_params(unit, recurse=False, writeback=writeback):
                    yield from owned

    def _gather_trainable(self) -> dict[str, torch.Tensor]:
        out = {name: param.detach().float().cpu().clone()
               for name, param in self._each_unit_full(writeback=False)}
        return {k: out[k] for k in self._trainable_names()}

    def _scatter_trainable(self, state: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for name, param in self._each_unit_full(writeback=True):
                param.copy_(state[name].to(param))


    def _gather_optimizer(self) -> dict:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        full = FSDP.optim_state_dict(self.model, self.optim_wrapper.optimizer)
        # keyed by the original names, possibly with wrapper prefixes; rank 0 only
        state, step = {}, 0
        for key, value in full.get('state', {}).items():
            name = key.replace('_fsdp_wrapped_module.', '')
            state[name] = {k: value[k].detach().float().cpu().clone() for k in ADAM_STATE_KEYS
                           if k in value}
            if 'step' in value:
                step = int(value['step'])
        names = {id(p): n.replace('_fsdp_wrapped_module.', '')
                 for n, p in self.model.named_parameters()}
        groups = _group_hparams(self.optim_wrapper.optimizer, names)
        return optimizer_layout(state, groups, step)

    def _scatter_optimizer(self, optim: dict) -> None:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        # one step tensor per parameter: AdamW increments them in place
        full_state = {name: dict(moments, step=torch.tensor(float(optim['step'])))
                      for name, moments in optim['state'].items()}
        groups = [dict({k: v for k, v in group.items() if k != 'names'}, params=group['names'])
                  for group in optim['param_groups']]
        # Every rank read the whole file: load without rank0_only (with it, FSDP 2.14
        # broadcasts the moments but leaves the other ranks' `step` wrong).
        from torch.distributed.fsdp import (
            FullOptimStateDictConfig,
            FullStateDictConfig,
            StateDictType,
        )
        with FSDP.state_dict_type(self.model, StateDictType.FULL_STATE_DICT,
                                  FullStateDictConfig(offload_to_cpu=True),
                                  FullOptimStateDictConfig(offload_to_cpu=True)):
            osd = FSDP.optim_state_dict_to_load(self.model, self.optim_wrapper.optimizer,
                                                dict(state=full_state, param_groups=groups))
        self.optim_wrapper.optimizer.load_state_dict(osd)
