"""LoRA on the Flamingo language model through peft, and freezing by name.

peft's ``inject_adapter_in_model`` adds LoRA layers in place, without a ``PeftModel``
wrapper: with ``get_peft_model`` the wrapper would receive open_flamingo's
``lang_encoder._use_cached_vision_x = True`` (open_flamingo's ``Flamingo.generate``; ours
sets the LM's ``reuse_conditioned_media``) during generation instead of the LM, and
cached decoding would silently stop attending to the image (STACK.md).
"""
from __future__ import annotations

import re

from mmengine.logging import MMLogger
from torch import nn

__all__ = ['PAPER_LORA_TARGETS', 'add_lora', 'set_trainable', 'lora_targets']

#: The paper's targets: self-attention, gated cross-attention and its feed-forward.
PAPER_LORA_TARGETS = ('q_proj', 'k_proj', 'v_proj', 'o_proj', 'to_q', 'to_kv', 'to_out',
                      'ff.1', 'ff.3')


def _matches(name: str, target: str) -> bool:
    """peft's rule: the module name equals the target or ends with ``.target``."""
    return name == target or name.endswith('.' + target)


def lora_targets(module: nn.Module, targets) -> dict[str, list[str]]:
    """Find the Linear layers each target names (each module once, canonical names).

    Args:
        module (nn.Module): Where to look (the language model).
        targets: Module name suffixes, e.g. :data:`PAPER_LORA_TARGETS`.

    Returns:
        dict[str, list[str]]: ``{target: [module names]}``.

    Raises:
        ValueError: If a target matches no Linear layer, naming the target.
    """
    found = {t: [] for t in targets}
    for name, sub in module.named_modules():
        for t in targets:
            if _matches(name, t) and isinstance(sub, nn.Linear):
                found[t].append(name)
    empty = [t for t, names in found.items() if not names]
    if empty:
        raise ValueError(
            f'LoRA target(s) {empty} match no Linear layer of {type(module).__name__}; '
            'check `lora.target_modules` in the config (names end a module path, e.g. '
            "'q_proj' or 'ff.1')")
    return found


def add_lora(module: nn.Module, r: int = 16, alpha: int = 16, dropout: float = 0.0,
             target_modules=PAPER_LORA_TARGETS) -> dict[str, list[str]]:
    """Inject LoRA (no bias) into ``module`` in place.

    Args:
        module (nn.Module): The language model (with its Flamingo layers).
        r (int): LoRA rank. Defaults to 16 (paper).
        alpha (int): LoRA alpha. Defaults to 16 (paper).
        dropout (float): LoRA dropout. Defaults to 0.0 (paper).
        target_modules: Module name suffixes. Defaults to the paper's.

    Returns:
        dict[str, list[str]]: The Linear layers adapted, by target.
    """
    from peft import LoraConfig, inject_adapter_in_model

    targets = lora_targets(module, tuple(target_modules))
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, bias='none',
                        target_modules=list(target_modules))
    inject_adapter_in_model(config, module)
    return targets


def set_trainable(model: nn.Module, freeze: bool = True, unfrozen=(),
                  logger: MMLogger | None = None) -> int:
    """Freeze everything but LoRA weights and parameters matching ``unfrozen``.

    Args:
        model (nn.Module): The whole model.
        freeze (bool): False leaves every parameter trainable. Defaults to True.
        unfrozen: Regular expressions (``re.search``) of parameter names to train as
            well, e.g. ``[r'perceiver\\.']``. Each must match something.
        logger (MMLogger, optional): Where to log the trainable count.

    Returns:
        int: The number of trainable parameters.
    """
    patterns = [re.compile(p) for p in unfrozen]
    hits = {p.pattern: 0 for p in patterns}
    for name, param in model.named_parameters():
        keep = not freeze or 'lora_' in name
        for p in patterns:
            if p.search(name):
                hits[p.pattern] += 1
                keep = True
        param.requires_grad_(keep)
    missing = [p for p, n in hits.items() if n == 0]
    if missing:
        raise ValueError(f'`unfrozen` pattern(s) {missing} match no parameter name')
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    (logger or MMLogger.get_current_instance()).info(
        f'trainable parameters: {trainable:,} of {total:,} ({100 * trainable / total:.3f}%)')
    return trainable
