"""Optimizer wrapper constructor: trainable parameters only, decay by name."""
from __future__ import annotations

import re

from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS, OPTIMIZERS
from torch import nn

from mmgpt.registry import OPTIM_WRAPPER_CONSTRUCTORS

__all__ = ['MMGPTOptimWrapperConstructor', 'RELEASED_DECAY_PATTERNS', 'RELEASED_NO_DECAY_PATTERNS']

#: The released MultiModal-GPT (from OpenFlamingo's ``get_grouped_params``) applied
#: weight decay to parameters whose name contains ``gated_cross_attn_layer`` ...
RELEASED_DECAY_PATTERNS = ('gated_cross_attn_layer', )
#: ... except the tanh gates, norms and biases. With LoRA, what remains trainable
#: there is the LoRA A/B of ``to_q``, ``to_kv``, ``to_out``, ``ff.1``, ``ff.3``.
RELEASED_NO_DECAY_PATTERNS = ('ff_gate', 'attn_gate', 'norm', 'bias')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MMGPTOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Build an optimizer over the trainable parameters, with weight decay by name.

    The original release gave the optimizer every parameter, frozen ones included;
    here only parameters with ``requires_grad`` are passed. They are split in two
    groups: ``weight_decay`` from the optimizer config for names matching one of
    ``paramwise_cfg.decay_patterns`` and none of ``paramwise_cfg.no_decay_patterns``
    (regular expressions, ``re.search``), and ``0.0`` for the others. Without
    ``decay_patterns`` every trainable parameter decays.

    Defaults reproduce the released code (weight decay 0.1 on the gated
    cross-attention LoRA weights only): ``decay_patterns=('gated_cross_attn_layer',)``,
    ``no_decay_patterns=('ff_gate', 'attn_gate', 'norm', 'bias')``.

    Args:
        optim_wrapper_cfg (dict): ``optim_wrapper`` from the config.
        paramwise_cfg (dict, optional): ``decay_patterns`` and ``no_decay_patterns``.
            Defaults to None (the released code's patterns).
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None) -> None:
        paramwise_cfg = dict(paramwise_cfg or {})
        self.decay_patterns = paramwise_cfg.pop('decay_patterns', RELEASED_DECAY_PATTERNS)
        self.no_decay_patterns = paramwise_cfg.pop('no_decay_patterns',
                                                   RELEASED_NO_DECAY_PATTERNS)
        if paramwise_cfg:
            raise KeyError(f'unknown paramwise_cfg keys {sorted(paramwise_cfg)}; '
                           'expected decay_patterns, no_decay_patterns')
        super().__init__(optim_wrapper_cfg, None)

    def _decays(self, name: str) -> bool:
        """Whether the parameter called ``name`` gets weight decay."""
        if self.decay_patterns is None:
            return True
        return (any(re.search(p, name) for p in self.decay_patterns)
                and not any(re.search(p, name) for p in self.no_decay_patterns))

    def param_groups(self, model: nn.Module) -> list[dict]:
        """Split the trainable parameters into a decay and a no-decay group.

        Args:
            model (nn.Module): The (unwrapped) model.

        Returns:
            list[dict]: Non-empty groups with ``params``, ``weight_decay`` and ``names``.
        """
        decay, no_decay = [], []
        for name, param in model.named_parameters():
            if param.requires_grad:
                (decay if self._decays(name) else no_decay).append((name, param))
        if not decay and not no_decay:
            raise ValueError(f'{type(model).__name__} has no parameter with requires_grad')
        if self.decay_patterns is not None and not decay:
            print_log(f'weight decay patterns {self.decay_patterns} match no trainable '
                      'parameter: no parameter is decayed', logger='current')
        groups = [dict(params=[p for _, p in decay], names=[n for n, _ in decay],
                       weight_decay=self.base_wd or 0.0),
                  dict(params=[p for _, p in no_decay], names=[n for n, _ in no_decay],
                       weight_decay=0.0)]
        return [g for g in groups if g['params']]

    def __call__(self, model: nn.Module) -> OptimWrapper:
        """Build the optimizer wrapper for ``model`` (a DDP wrapper is unwrapped)."""
        if hasattr(model, 'module'):
            model = model.module
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cfg['params'] = self.param_groups(model)
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        wrapper_cfg = self.optim_wrapper_cfg.copy()
        wrapper_cfg.setdefault('type', 'OptimWrapper')
        return OPTIM_WRAPPERS.build(wrapper_cfg, default_args=dict(optimizer=optimizer))
