"""Reading trained weights of any kind this project meets, the MultiModal-GPT release's too.

:func:`load_checkpoint` is what chat and export call: it loads onto a
:class:`~mmgpt.models.MultiModalGPT`, strictly, either a checkpoint this project wrote
(``.safetensors``, or a training ``.pth`` read with ``weights_only=True``) or the LoRA
checkpoint of the MultiModal-GPT release (``mmgpt-lora-v0-release.pt``).

The release's file, as its training script (``open-mmlab/Multimodal-GPT/mmgpt/train/instruction_finetune.py``)
writes it: a ``torch.save`` d dict with ``model_state_dict`` (the parameters that
required grad, one name per tensor, keys prefixed ``module.`` when saved from the DDP
wrapper), ``tuning_config`` (a pickled MMEngine ``Config``: LoRA r, alpha, dropout,
targets, ``unfrozen``) and, in per-epoch files, the epoch and the optimizer and scheduler
states. Its LoRA came from ``peft.get_peft_model`` on the language model, so the names
are those of a ``PeftModel`` around open_flamingo v1's Flamingo LM::

    module.lang_encoder.base_model.model.model.layers.3.decoder_layer.self_attn.q_proj.lora_A.default.weight
    module.lang_encoder.base_model.model.model.layers.3.gated_cross_attn_layer.attn.to_kv.lora_B.weight
    (peft before 0.3 had no adapter name: ``lora_A.weight``)

The pickled ``Config`` makes the file unloadable with ``weights_only=True``, and a plain
``torch.load`` would run whatever code a pickle names. It is read here by an unpickler
that admits only tensor rebuilding, ``OrderedDict``, ``set`` and the two MMEngine config
classes, the latter rebuilt as plain dicts by this module's own stand-ins (MMEngine's
code is not run). Anything else stops with :class:`UnsafeCheckpointError` naming it.
"""  # noqa: E501
from __future__ import annotations

import pickle
import re
import types
from collections import OrderedDict

import torch
from torch import nn

from .weights import (
    CheckpointKeyError,
    UnsafeCheckpointError,
    _listing,
    canonical_names,
    check_keys,
    load_weights_file,
)

__all__ = ['RELEASE_LM_PREFIX', 'ReleaseCheckpoint', 'read_release_checkpoint',
           'release_key_to_mmgpt', 'map_release_state_dict', 'is_release_state_dict',
           'lora_settings', 'load_checkpoint']

#: Where the release's LoRA'd language model sits (a ``PeftModel`` wrapping it).
RELEASE_LM_PREFIX = 'lang_encoder.base_model.model.'

_LORA_NAME = re.compile(r'\.(lora_[AB])(?:\.default)?\.weight$')


class _ConfigStandIn:
    """Receives a pickled ``mmengine.Config``'s state (a tuple: cfg dict, filename, text...)."""

    def __setstate__(self, state):
        self.state = state


class _ConfigDictStandIn(dict):
    """A pickled ``mmengine.ConfigDict`` as a plain dict (new pickles: ``ConfigDict(d)``;
    old ones: ``__new__``, items, then ``__setstate__(self)``)."""

    def __setstate__(self, state):
        if isinstance(state, dict) and state is not self:
            self.update(state)


#: The only globals a release checkpoint may name.
_ALLOWED_GLOBALS = {
    ('torch._utils', '_rebuild_tensor_v2'): torch._utils._rebuild_tensor_v2,
    ('torch._utils', '_rebuild_parameter'): torch._utils._rebuild_parameter,
    ('collections', 'OrderedDict'): OrderedDict,
    ('builtins', 'set'): set,
    ('__builtin__', 'set'): set,  # protocol 2 pickles name Python 2's module
    ('mmengine.config.config', 'Config'): _ConfigStandIn,
    ('mmengine.config.config', 'ConfigDict'): _ConfigDictStandIn,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafeCheckpointError(
                f'the pickle names {module}.{name}; refusing to unpickle it (it could run '
                'code). Only tensors are read, and of a MultiModal-GPT release checkpoint '
                'its MMEngine config, as data') from None


# torch.load's ``pickle_module``: torch subclasses our Unpickler to map its storages.
_restricted_pickle = types.ModuleType('mmgpt_restricted_pickle')
_restricted_pickle.Unpickler = _RestrictedUnpickler
_restricted_pickle.load = lambda f, **kw: _RestrictedUnpickler(f, **kw).load()
_restricted_pickle.__name__ = 'mmgpt_restricted_pickle'


def _plain(obj):
    """Stand-ins and containers -> dicts, lists and scalars."""
    if isinstance(obj, _ConfigStandIn):
        state = obj.state
        if isinstance(state, dict):  # a Config pickled with its __dict__
            return _plain(state.get('_cfg_dict', state))
        return _plain(state[0]) if state else {}
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [_plain(v) for v in obj]
    return obj


class ReleaseCheckpoint(dict):
    """The release file's weights (``module.`` removed), with what else it held.

    Attributes:
        tuning_config (dict | None): The ``tuning_config`` section (``lora``, ``lora_r``,
            ``lora_alpha``, ``lora_dropout``, ``lora_target_modules``, ``unfrozen``), or
            None if the file has none.
        extra_keys (list[str]): Other top-level entries (``epoch``, optimizer, scheduler).
    """

    tuning_config: dict | None = None
    extra_keys: tuple = ()


def read_release_checkpoint(path: str) -> ReleaseCheckpoint:
    """Read a MultiModal-GPT release checkpoint without running pickled code.

    Args:
        path (str): ``mmgpt-lora-v0-release.pt``, a ``checkpoint_N.pt`` or
            ``final_weights.pt`` of the release's training script.

    Returns:
        ReleaseCheckpoint: The state dict (keys without ``module.``).

    Raises:
        UnsafeCheckpointError: If the pickle names any other global, naming it.
        ValueError: If the file holds no state dict of tensors.
    """
    try:
        obj = torch.load(path, map_location='cpu', pickle_module=_restricted_pickle,
                         weights_only=False)  # safe: the unpickler is the allow-list above
    except UnsafeCheckpointError as err:
        raise UnsafeCheckpointError(f'{path}: {err}') from None
    tuning, extra = None, []
    if isinstance(obj, dict) and 'model_state_dict' in obj:
        tuning = _plain(obj.get('tuning_config'))
        extra = sorted(str(k) for k in obj if k not in ('model_state_dict', 'tuning_config'))
        obj = obj['model_state_dict']
    if not isinstance(obj, dict) or not obj or \
            not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f'{path}: no state dict of tensors (expected `model_state_dict`)')
    if isinstance(tuning, dict) and isinstance(tuning.get('tuning_config'), dict):
        tuning = tuning['tuning_config']  # the whole Config file was pickled
    out = ReleaseCheckpoint(
        (k[len('module.'):] if k.startswith('module.') else k, v) for k, v in obj.items())
    out.tuning_config, out.extra_keys = tuning, extra
    return out


def release_key_to_mmgpt(key: str) -> str | None:
    """This project's name for a release key (``module.`` already removed), or None.

    ``lang_encoder.base_model.model.X.lora_A[.default].weight`` ->
    ``flamingo.lang_encoder.X.lora_A.default.weight``; a non-LoRA parameter the release
    unfroze (``perceiver.*``, ``lang_encoder.*``) keeps its Flamingo name under
    ``flamingo.``. Anything else (the release's whole CLIP, say) has no name here.
    """
    if key.startswith(RELEASE_LM_PREFIX):
        rest = _LORA_NAME.sub(r'.\1.default.weight', key[len(RELEASE_LM_PREFIX):])
        return 'flamingo.lang_encoder.' + rest
    if key.startswith('vision_encoder.visual.'):
        return 'flamingo.vision_encoder.' + key[len('vision_encoder.visual.'):]
    if key.startswith(('perceiver.', 'lang_encoder.')):
        return 'flamingo.' + key
    return None


def is_release_state_dict(state: dict) -> bool:
    """Whether the keys are named as in the release (its peft-wrapped language model)."""
    return any(k.startswith((RELEASE_LM_PREFIX, 'module.' + RELEASE_LM_PREFIX))
               for k in state)


def lora_settings(model: nn.Module) -> dict | None:
    """``dict(r, alpha)`` of the model's LoRA layers (None without LoRA).

    Raises:
        ValueError: If layers differ (the release and this project use one setting).
    """
    from peft.tuners.lora import LoraLayer  # lazy: peft is heavy to import

    found = {(layer.r['default'], layer.lora_alpha['default'])
             for layer in model.modules() if isinstance(layer, LoraLayer) and layer.r}
    if not found:
        return None
    if len(found) > 1:
        raise ValueError(f'LoRA layers with different (r, alpha): {sorted(found)}')
    r, alpha = found.pop()
    return dict(r=r, alpha=alpha)


def _check_tuning_config(tuning: dict | None, model, source: str) -> None:
    """The release's LoRA scale must be the model's (r alone shows up as a shape error)."""
    if not isinstance(tuning, dict) or not tuning.get('lora', True):
        return
    ours = lora_settings(model)
    theirs = dict(r=tuning.get('lora_r'), alpha=tuning.get('lora_alpha'))
    if ours is None:
        raise ValueError(f'{source} holds LoRA weights (r={theirs["r"]}) but the config '
                         'builds the model without LoRA (`model.lora=None`)')
    if None not in theirs.values() and theirs != ours:
        raise ValueError(
            f'{source} was trained with LoRA r={theirs["r"]}, alpha={theirs["alpha"]}, the '
            f'config builds r={ours["r"]}, alpha={ours["alpha"]}: set `model.lora` to the '
            "checkpoint's (configs/mmgpt_release_v0.py has the release's)")


def map_release_state_dict(state: dict, model, source: str = 'checkpoint') -> dict:
    """Rename a release state dict onto ``model``'s trainable weights, strictly.

    Every key must map onto a trainable parameter of ``model`` (its LoRA weights and any
    ``unfrozen``), and every trainable parameter must be filled.

    Args:
        state (dict): Release keys (``module.`` removed) -> tensors.
        model: The :class:`~mmgpt.models.MultiModalGPT` built from the config.
        source (str): The file, for messages.

    Returns:
        dict: ``{this project's name: tensor}``, ready for ``model.load_state_dict``.

    Raises:
        CheckpointKeyError: Naming the release keys that have no place in the model and
            the model's weights (with their LoRA target) that the file does not fill.
        ValueError: If a tensor is given twice (an alias disagreeing with its name).
    """
    names = canonical_names(model)
    trainable = set(model.trainable_parameter_names())
    mapped, unused = {}, []
    for key, value in state.items():
        ours = release_key_to_mmgpt(key)
        ours = names.get(ours) if ours is not None else None
        if ours is None or ours not in trainable:
            unused.append(key)
        elif ours in mapped and not torch.equal(mapped[ours], value):
            raise ValueError(f'{source}: {key} gives {ours} a second, different value')
        else:
            mapped[ours] = value
    missing = sorted(trainable - set(mapped))
    problems = []
    if unused:
        problems.append(f'{len(unused)} key(s) with no trainable weight of this model to '
                        f'go to: {_listing(unused)}')
    if missing:
        targets = sorted({_lora_target(m) for m in missing})
        problems.append(f'{len(missing)} weight(s) of this model not in the file (LoRA '
                        f'targets or unfrozen weights: {", ".join(targets)}): '
                        f'{_listing(missing)}')
    if problems:
        raise CheckpointKeyError(
            f'release checkpoint {source} does not match the model: ' + '; '.join(problems))
    return mapped


def _lora_target(name: str) -> str:
    """``...gated_cross_attn_layer.ff.1.lora_A.default.weight`` -> ``'ff.1'``."""
    if '.lora_' not in name:
        return name
    module = name.split('.lora_')[0].split('.')
    return '.'.join(module[-2:]) if module[-1].isdigit() else module[-1]


def load_checkpoint(model, path: str) -> str:
    """Load trained weights onto ``model`` strictly, whichever layout the file has.

    Args:
        model: The :class:`~mmgpt.models.MultiModalGPT` built from the checkpoint's
            config.
        path (str): A ``.safetensors`` file, a training checkpoint ``.pth`` of this
            project (also resumed or distributed runs: ``state_dict`` nested, optional
            ``module.`` prefix), or a MultiModal-GPT release checkpoint.

    Returns:
        str: ``'mmgpt'`` or ``'release'``, the layout found.

    Raises:
        CheckpointKeyError: If the keys do not match the model (naming them).
        UnsafeCheckpointError: If the file needs unpickling of anything but tensors
            (and, for a release file, its config).
    """
    try:
        state, tuning = load_weights_file(path), None
    except UnsafeCheckpointError:
        # Not tensors only: a release checkpoint (pickled Config) or something unsafe,
        # which the restricted reader refuses, naming what the pickle asked for.
        state = read_release_checkpoint(path)
        tuning = state.tuning_config
    layout = 'mmgpt'
    if is_release_state_dict(state):
        _check_tuning_config(tuning, model, path)
        state, layout = map_release_state_dict(state, model, path), 'release'
    elif tuning is not None:
        raise CheckpointKeyError(
            f'{path} is pickled like a release checkpoint but its keys are not the '
            f"release's ({RELEASE_LM_PREFIX}...): {_listing(state)}")
    check_keys(model.trainable_parameter_names(), state.keys(), path)
    wrong = [f'{k} {tuple(v.shape)} (model: {tuple(model.get_parameter(k).shape)})'
             for k, v in state.items() if v.shape != model.get_parameter(k).shape]
    if wrong:
        raise CheckpointKeyError(f'checkpoint {path} does not match the model: '
                                 f'{len(wrong)} shape(s) differ: {_listing(wrong, 5)}')
    model.load_state_dict(state, strict=True)
    return layout
