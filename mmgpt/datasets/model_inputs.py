"""The model config is the one place that declares what the data pipeline must match.

A model is trained, chatted with and evaluated in ONE template, with ONE tokenizer and
ONE image preprocessing, all declared in the model config (``model.template``,
``model.tokenizer``, ``model.vision_encoder``). Pipelines in configs leave these
arguments out::

    pipeline=[dict(type='LoadConversationImage'),
              dict(type='TokenizeConversation', max_length=512),
              dict(type='PackInputs')]

and :func:`bind_model_config` fills them in from the model config when a dataloader is
built (``MMGPTRunner.build_dataloader``, ``tools/browse_dataset.py``). A config that
overrides ``model.template`` therefore changes the training text, the chat prompt
(:class:`mmgpt.inference.ChatEngine` reads ``model.template``) and the in-training chat
hook together. The collate pad id is not configured at all: ``TokenizeConversation``
records the tokenizer's pad id on every sample and ``mmgpt_collate`` pads with it.
"""
from __future__ import annotations

import copy

from mmgpt.templates import DEFAULT_TEMPLATE

__all__ = ['MODEL_ARGUMENTS', 'bind_model_config', 'register_model_arguments']

#: Transform arguments that belong to the model: ``{transform: {argument: model key}}``.
MODEL_ARGUMENTS = {
    'LoadConversationImage': {'vision_encoder': 'vision_encoder'},
    'TokenizeConversation': {'tokenizer': 'tokenizer', 'template': 'template'},
}

_MODEL_DEFAULTS = {'template': DEFAULT_TEMPLATE}


def register_model_arguments(type_name: str, arguments: dict) -> None:
    """Declare that a transform or dataset ``type`` takes arguments from the model config.

    Args:
        type_name (str): The registered ``type`` name.
        arguments (dict): ``{argument: model config key}``, e.g.
            ``dict(vision_encoder='vision_encoder')``.
    """
    MODEL_ARGUMENTS[type_name] = dict(arguments)


def _model_value(model: dict, key: str):
    if key in model and model[key] is not None:
        return copy.deepcopy(model[key])
    if key in _MODEL_DEFAULTS:
        return _MODEL_DEFAULTS[key]
    raise ValueError(f'the model config has no `{key}`; the data pipeline takes it from '
                     f'there (model.{key})')


def _plain(value):
    """Config objects (ConfigDict) as plain dicts/lists, for comparison."""
    if hasattr(value, 'to_dict'):
        value = value.to_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _bind(node, model: dict, where: str):
    if isinstance(node, (list, tuple)):
        return type(node)(_bind(v, model, f'{where}[{i}]') for i, v in enumerate(node))
    if not isinstance(node, dict):
        return node
    out = {k: _bind(v, model, f'{where}.{k}') for k, v in node.items()}
    kind = str(out.get('type', '')).split('.')[-1]
    for argument, key in MODEL_ARGUMENTS.get(kind, {}).items():
        value = _model_value(model, key)
        if argument in out and out[argument] is not None and \
                _plain(out[argument]) != _plain(value):
            raise ValueError(
                f'{where} ({kind}) sets {argument}={_plain(out[argument])!r}, but the model '
                f'config declares {key}={_plain(value)!r}; declare it once, as '
                f'model.{key} (the pipeline, chat and evaluation all read it from there)')
        out[argument] = value
    return out


def bind_model_config(cfg: dict, model: dict) -> dict:
    """Give every model-dependent transform in ``cfg`` the model config's values.

    Every dict in ``cfg`` (a dataloader or dataset config, or a pipeline list) whose
    ``type`` is in :data:`MODEL_ARGUMENTS` gets ``vision_encoder`` / ``tokenizer`` /
    ``template`` from ``model`` (``template`` defaults to
    :data:`~mmgpt.templates.DEFAULT_TEMPLATE`).

    Args:
        cfg (dict | list): A dataloader, dataset or pipeline config; not modified.
        model (dict): The model config (``cfg.model``).

    Returns:
        A copy of ``cfg`` with the arguments filled in.

    Raises:
        ValueError: A transform sets one of these arguments to a value other than the
            model's (the message names the transform and the key), or the model config
            lacks a key the pipeline needs.
    """
    return _bind(cfg, model, 'dataloader')
