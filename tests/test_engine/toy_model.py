"""A toy model with MultiModalGPT's interface, and a toy joint dataset, for fast tests."""
from collections import OrderedDict

import torch
from mmengine.model import BaseModel
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from torch import nn
from torch.utils.data import Dataset

from mmgpt.registry import DATASETS, FUNCTIONS, MODELS


@MODELS.register_module(force=True)
class ToyJointModel(BaseModel):
    """Frozen embedding; trainable 'cross-attention' (VL only) and 'LoRA' (both).

    ``state_dict`` holds only the trainable weights and ``load_state_dict`` checks them
    strictly, like MultiModalGPT.
    """

    def __init__(self, dim: int = 8, vocab: int = 16, dropout: float = 0.5):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.embed.requires_grad_(False)
        self.gated_cross_attn_layer = nn.Linear(dim, dim)
        self.gated_cross_attn_layer.bias.requires_grad_(False)
        self.lora_A = nn.Linear(dim, 4, bias=False)
        self.lora_B = nn.Linear(4, 1, bias=False)
        self.dropout = nn.Dropout(dropout)  # draws random numbers: resume must restore RNG
        self._trainable = tuple(n for n, p in self.named_parameters() if p.requires_grad)

    def trainable_parameter_names(self):
        return self._trainable

    def state_dict(self, *args, destination=None, prefix='', keep_vars=False):
        full = super().state_dict(*args, prefix=prefix, keep_vars=keep_vars)
        return OrderedDict((prefix + k, full[prefix + k]) for k in self._trainable)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        if strict and set(state_dict) != set(self._trainable):
            raise KeyError(f'unexpected {sorted(set(state_dict) - set(self._trainable))}, '
                           f'missing {sorted(set(self._trainable) - set(state_dict))}')
        return super().load_state_dict(state_dict, strict=False)

    def _loss(self, batch, vision):
        h = self.embed(batch['input_ids'])
        if vision:
            h = h + self.gated_cross_attn_layer(h)
        pred = self.lora_B(self.dropout(self.lora_A(h))).squeeze(-1)
        return ((pred - batch['labels'].float()) ** 2).mean()

    def forward(self, vl=None, lang=None, mode='loss', data_samples=None):
        losses = {}
        if vl is not None:
            losses['loss_vl'] = self._loss(vl, True)
        if lang is not None:
            losses['loss_lang'] = self._loss(lang, False)
        return losses


@DATASETS.register_module(force=True)
class ToyJointDataset(Dataset):
    """``length`` samples of random token ids and targets, fixed by the index."""

    metainfo = dict(name='toy')

    def __init__(self, length: int = 48):
        self.length = length

    def __len__(self):
        return self.length

    def __getitem__(self, idx):
        g = torch.Generator().manual_seed(idx)
        return dict(input_ids=torch.randint(0, 16, (6,), generator=g),
                    labels=torch.randint(0, 3, (6,), generator=g))


@FUNCTIONS.register_module(force=True)
@MMENGINE_FUNCTIONS.register_module(force=True)  # Runner looks collate_fn up in the root
def toy_joint_collate(samples):
    """Each sample becomes both the VL and the language batch (shifted)."""
    ids = torch.stack([s['input_ids'] for s in samples])
    labels = torch.stack([s['labels'] for s in samples])
    mask = torch.ones_like(ids)
    return dict(vl=dict(input_ids=ids, labels=labels, attention_mask=mask),
                lang=dict(input_ids=(ids + 1) % 16, labels=labels, attention_mask=mask))


def toy_runner_cfg(work_dir, length=48, **overrides):
    """An MMGPTRunner config with the toy model and the repo's runtime and schedule."""
    from engine_fixtures import REPO
    from mmengine import Config
    base = Config.fromfile(str(REPO / 'configs' / '_base_' / 'default_runtime.py'))
    sched = Config.fromfile(str(REPO / 'configs' / '_base_' / 'schedules' / 'mmgpt_1epoch.py'))
    cfg = Config(dict(
        model=dict(type='ToyJointModel'),
        work_dir=str(work_dir),
        train_dataloader=dict(
            batch_size=1, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='toy_joint_collate'),
            dataset=dict(type='ToyJointDataset', length=length)),
        optim_wrapper=sched.optim_wrapper, param_scheduler=sched.param_scheduler,
        train_cfg=sched.train_cfg, default_hooks=base.default_hooks,
        custom_hooks=base.custom_hooks, default_scope='mmgpt', env_cfg=base.env_cfg,
        log_processor=base.log_processor, randomness=dict(seed=0), log_level='WARNING'))
    cfg.merge_from_dict(overrides)
    return cfg
