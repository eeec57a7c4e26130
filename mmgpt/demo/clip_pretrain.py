"""Demo stage 0: contrastive (CLIP) pretraining of the tiny vision tower, on the Runner.

MultiModal-GPT starts from OpenFlamingo, whose vision encoder is a CLIP ViT-L/14 that
OpenAI pretrained contrastively and OpenFlamingo kept frozen. The embedded demo cannot
download it, so it grows its own CLIP first on the shapes world's captions, with
open_clip's own model (``open_clip.CLIP``) and loss (``open_clip.ClipLoss``), and then
uses it the way OpenFlamingo uses CLIP: loaded from its own weights file, frozen.

Stage 0 is an ordinary config (``configs/demo/stage0_clip_pretrain.py``) run by
``tools/train.py``: :class:`ContrastiveCLIP` is the model, :class:`CaptionBatchDataset`
the data (one item = one contrastive batch of distinct captions), MMEngine's Runner the
loop (checkpoints, resume, logging), and ``ExportWeightsHook`` writes the final CLIP where
stages 1 and 2 read it (``model.vision_encoder.pretrained``).

The text tower reads the captions with the language model's tokenizer; the vision
encoder config's ``model_cfg.text_cfg`` must have ``vocab_size >= len(tokenizer)``,
``pool_type='eos'`` and ``eos_id`` equal to the tokenizer's EOS id.
"""
from __future__ import annotations

import random
from collections.abc import Sequence

import open_clip
import torch
from mmengine.model import BaseModel
from torch.utils.data import Dataset

from mmgpt.datasets import register_model_arguments
from mmgpt.models import build_clip
from mmgpt.registry import DATASETS, MODELS
from mmgpt.tokenizer import build_tokenizer
from mmgpt.utils.image import build_image_transform, read_rgb_image

__all__ = ['read_captions', 'CaptionBatchDataset', 'ContrastiveCLIP', 'check_text_cfg']


def read_captions(datasets: Sequence) -> list[tuple[str, str]]:
    """``(image path, caption)`` pairs of caption datasets.

    Args:
        datasets: Built conversation datasets (e.g. ``CcSbuAlignDataset``); the first
            turn's response of each image conversation is its caption.

    Returns:
        list[tuple[str, str]]: The pairs, in dataset order.
    """
    pairs = []
    for dataset in datasets:
        for index in range(len(dataset)):
            info = dataset.get_data_info(index)
            if info.get('image'):
                pairs.append((info['image'], info['turns'][0]['response']))
    return pairs


def check_text_cfg(text_cfg: dict, tokenizer) -> None:
    """Refuse a CLIP text tower that cannot read the tokenizer's ids (names the keys)."""
    problems = []
    if text_cfg.get('vocab_size', 0) < len(tokenizer):
        problems.append(f"vocab_size={text_cfg.get('vocab_size')} < {len(tokenizer)} tokens")
    if text_cfg.get('pool_type') != 'eos' or text_cfg.get('eos_id') != tokenizer.eos_token_id:
        problems.append(f"pool_type={text_cfg.get('pool_type')!r} / "
                        f"eos_id={text_cfg.get('eos_id')!r}, expected 'eos' / "
                        f'{tokenizer.eos_token_id} (the tokenizer\'s EOS)')
    if problems:
        raise ValueError('vision_encoder.model_cfg.text_cfg does not fit the tokenizer: '
                         + '; '.join(problems))


def _text_cfg(vision_encoder: dict) -> dict:
    if vision_encoder.get('model_cfg') is None:
        raise ValueError('CLIP pretraining needs a vision encoder config with a model_cfg '
                         '(both towers)')
    return dict(vision_encoder['model_cfg'].get('text_cfg') or {})


@DATASETS.register_module()
class CaptionBatchDataset(Dataset):
    """Contrastive batches of distinct captions, each with one of its images.

    Item ``i`` is a whole batch: ``batch_size`` distinct captions drawn with a generator
    seeded by ``(seed, i)``, each with one of its images drawn at random, so the
    contrastive loss never treats two images with the same caption as negatives. Use it
    with ``batch_size=1`` and ``collate_fn=dict(type='pseudo_collate')``; items are
    deterministic by index, so a resumed run sees the same batches.

    Args:
        captions (list[dict]): Caption dataset configs (e.g. ``CcSbuAlignDataset``).
        vision_encoder (dict): The model's tower config (its image preprocessing and
            ``model_cfg.text_cfg.context_length``); filled in from the model config.
        tokenizer (dict): The model's tokenizer config; filled in from the model config.
        data_root (str, optional): Given to every caption config without one.
        batch_size (int): Captions per batch, at most the number of distinct captions.
            Defaults to 48.
        num_batches (int): Items (= training iterations of one epoch). Defaults to 800.
        seed (int): Seed of the draws. Defaults to 0.
    """

    def __init__(self, captions: list, vision_encoder: dict | None = None,
                 tokenizer: dict | None = None, data_root: str | None = None,
                 batch_size: int = 48, num_batches: int = 800, seed: int = 0) -> None:
        if vision_encoder is None or tokenizer is None:
            raise ValueError('CaptionBatchDataset needs the model\'s vision_encoder and '
                             'tokenizer: build it with bind_model_config(cfg, cfg.model)')
        datasets = [DATASETS.build(dict(c, data_root=c.get('data_root') or data_root))
                    for c in captions]
        pairs = read_captions(datasets)
        if not pairs:
            raise ValueError('no (image, caption) pairs to pretrain CLIP on in '
                             f'{[c.get("ann_file") for c in captions]} under {data_root!r}')
        self.tokenizer = build_tokenizer(tokenizer)
        text_cfg = _text_cfg(vision_encoder)
        check_text_cfg(text_cfg, self.tokenizer)
        self.context_length = int(text_cfg.get('context_length', 77))
        self.transform = build_image_transform(vision_encoder)
        self.by_caption: dict[str, list[str]] = {}
        for path, caption in pairs:
            self.by_caption.setdefault(caption, []).append(path)
        self.captions = list(self.by_caption)
        self.num_pairs = len(pairs)
        self.batch_size = min(batch_size, len(self.captions))
        self.num_batches, self.seed = num_batches, seed
        self._images: dict[str, torch.Tensor] = {}

    def __len__(self) -> int:
        return self.num_batches

    def encode(self, text: str) -> list[int]:
        """Caption ids: the text, EOS, then padding to the context length."""
        tok = self.tokenizer
        ids = tok(text, add_special_tokens=False)['input_ids'][:self.context_length - 1]
        ids.append(tok.eos_token_id)
        return ids + [tok.pad_token_id] * (self.context_length - len(ids))

    def image(self, path: str) -> torch.Tensor:
        """The preprocessed image (cached: the demo's images are tiny)."""
        if path not in self._images:
            self._images[path] = self.transform(read_rgb_image(path))
        return self._images[path]

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.num_batches:
            raise IndexError(f'batch {index} out of range ({self.num_batches})')
        rng = random.Random(self.seed * 1_000_003 + index)
        chosen = rng.sample(self.captions, self.batch_size)
        paths = [rng.choice(self.by_caption[c]) for c in chosen]
        return dict(images=torch.stack([self.image(p) for p in paths]),
                    texts=torch.tensor([self.encode(c) for c in chosen]))


register_model_arguments('CaptionBatchDataset', dict(vision_encoder='vision_encoder',
                                                     tokenizer='tokenizer'))


@MODELS.register_module()
class ContrastiveCLIP(BaseModel):
    """open_clip's ``CLIP`` (both towers) trained with open_clip's ``ClipLoss``.

    Args:
        vision_encoder (dict): The tower config with a ``model_cfg`` (both towers), the
            same dict the later stages use; ``pretrained`` is ignored here (training starts
            from random weights).
        tokenizer (dict): The tokenizer the text tower reads captions with (checked
            against ``model_cfg.text_cfg``).
        data_preprocessor (dict, optional): MMEngine data preprocessor config.
    """

    def __init__(self, vision_encoder: dict, tokenizer: dict,
                 data_preprocessor: dict | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        check_text_cfg(_text_cfg(vision_encoder), build_tokenizer(tokenizer))
        self.clip = build_clip(dict(vision_encoder, pretrained=None), output_dict=True)
        self.loss_fn = open_clip.ClipLoss()

    @staticmethod
    def _cat(value) -> torch.Tensor:
        return torch.cat(list(value)) if isinstance(value, (list, tuple)) else value

    def forward(self, images, texts, mode: str = 'loss', data_samples=None):
        """'loss': ``dict(loss=ClipLoss)``; 'predict' / 'tensor': image-to-caption scores.

        Args:
            images: ``(B, 3, H, W)``, or a list of such batches (``pseudo_collate``).
            texts: ``(B, context_length)`` caption ids, or a list of such batches.
            mode (str): 'loss', 'predict' or 'tensor'.
            data_samples: Unused (MMEngine signature).
        """
        images, texts = self._cat(images), self._cat(texts)
        out = self.clip(images, texts)
        if mode == 'loss':
            return dict(loss=self.loss_fn(out['image_features'], out['text_features'],
                                          out['logit_scale']))
        if mode in ('predict', 'tensor'):
            return out['image_features'] @ out['text_features'].T
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")
