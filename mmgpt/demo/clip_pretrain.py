"""Contrastive (CLIP) pretraining of a small vision tower on image-caption pairs.

MultiModal-GPT starts from OpenFlamingo, whose vision encoder is a CLIP ViT-L/14 that
OpenAI pretrained contrastively and OpenFlamingo kept frozen. The embedded demo cannot
download it, so it grows its own CLIP first (stage 0) on the shapes world's captions,
with open_clip's own model and loss, and then uses it the way OpenFlamingo uses CLIP:
loaded from its own weights file, frozen.

The text tower reads the captions with the language model's tokenizer; the vision
encoder config's ``model_cfg.text_cfg`` must have ``vocab_size >= len(tokenizer)``,
``pool_type='eos'`` and ``eos_id`` equal to the tokenizer's EOS id.
"""
from __future__ import annotations

import random
from collections.abc import Sequence

import open_clip
import torch
from mmengine.logging import MMLogger
from PIL import Image

from mmgpt.models import build_clip, save_weights_file
from mmgpt.tokenizer import build_tokenizer
from mmgpt.utils.image import build_image_transform

__all__ = ['read_captions', 'pretrain_clip']


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


def _check_text_cfg(text_cfg: dict, tokenizer) -> None:
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


def _encode(tokenizer, text: str, length: int) -> list[int]:
    ids = tokenizer(text, add_special_tokens=False)['input_ids'][:length - 1]
    ids.append(tokenizer.eos_token_id)
    return ids + [tokenizer.pad_token_id] * (length - len(ids))


def pretrain_clip(pairs: Sequence[tuple[str, str]], vision_encoder: dict, tokenizer: dict,
                  out_file: str, steps: int = 400, batch_size: int = 48, lr: float = 2e-3,
                  weight_decay: float = 0.1, warmup: float = 0.1, seed: int = 0,
                  progress: bool = False) -> dict:
    """Train a CLIP contrastively and save it as a safetensors file.

    Each batch holds distinct captions (one random image each), so the contrastive loss
    never treats two images with the same caption as negatives of each other.

    Args:
        pairs: ``(image path, caption)`` pairs (see :func:`read_captions`).
        vision_encoder (dict): The vision encoder config with a ``model_cfg`` (both towers);
            ``pretrained`` is ignored (training starts from random weights).
        tokenizer (dict): The tokenizer config the text tower reads captions with.
        out_file (str): Where to write the CLIP weights (``.safetensors``); the file is the
            ``pretrained`` of the same vision encoder config afterwards.
        steps (int): Optimizer steps. Defaults to 400.
        batch_size (int): Captions per batch (at most the number of distinct captions).
            Defaults to 48.
        lr (float): Peak AdamW learning rate (one-cycle: warm-up, then cosine). Defaults
            to 2e-3.
        weight_decay (float): AdamW weight decay. Defaults to 0.1.
        warmup (float): Share of the steps that warm up. Defaults to 0.1.
        seed (int): Seed of the initialisation and the batches. Defaults to 0.
        progress (bool): Show a tqdm bar. Defaults to False.

    Returns:
        dict: ``loss`` (mean of the last 20 steps), ``first_loss``, ``retrieval`` (share of
        the training images whose own caption scores highest among the distinct captions),
        ``num_pairs`` and ``num_captions``.
    """
    from tqdm import tqdm

    if not str(out_file).endswith('.safetensors'):
        raise ValueError(f'out_file must end in .safetensors, got {out_file!r}')
    if not pairs:
        raise ValueError('no (image, caption) pairs to pretrain CLIP on')
    if vision_encoder.get('model_cfg') is None:
        raise ValueError('pretrain_clip needs a vision encoder config with a model_cfg')
    tok = build_tokenizer(tokenizer)
    text_cfg = dict(vision_encoder['model_cfg'].get('text_cfg') or {})
    _check_text_cfg(text_cfg, tok)
    length = int(text_cfg.get('context_length', 77))

    torch.manual_seed(seed)
    rng = random.Random(seed)
    clip = build_clip(dict(vision_encoder, pretrained=None), output_dict=True)
    transform = build_image_transform(vision_encoder)
    paths = sorted({path for path, _ in pairs})
    index = {path: i for i, path in enumerate(paths)}
    images = torch.stack([transform(Image.open(p).convert('RGB')) for p in
                          tqdm(paths, desc='load images', disable=not progress)])
    by_caption: dict[str, list[int]] = {}
    for path, caption in pairs:
        by_caption.setdefault(caption, []).append(index[path])
    captions = list(by_caption)
    texts = torch.tensor([_encode(tok, c, length) for c in captions])
    batch_size = min(batch_size, len(captions))

    optimizer = torch.optim.AdamW(clip.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=steps, pct_start=warmup)
    loss_fn = open_clip.ClipLoss()
    losses = []
    clip.train()
    bar = tqdm(range(steps), desc='CLIP pretraining', disable=not progress)
    for _ in bar:
        chosen = rng.sample(range(len(captions)), batch_size)
        image_ids = [rng.choice(by_caption[captions[c]]) for c in chosen]
        out = clip(images[image_ids], texts[chosen])
        loss = loss_fn(out['image_features'], out['text_features'], out['logit_scale'])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f'{losses[-1]:.3f}')

    clip.eval()
    with torch.no_grad():
        text_features = clip.encode_text(texts, normalize=True)
        correct = 0
        for start in range(0, len(paths), 256):
            feats = clip.encode_image(images[start:start + 256], normalize=True)
            best = (feats @ text_features.T).argmax(-1).tolist()
            correct += sum(image in by_caption[captions[caption]]
                           for image, caption in enumerate(best, start))
    metrics = dict(loss=sum(losses[-20:]) / len(losses[-20:]), first_loss=losses[0],
                   retrieval=correct / len(paths), num_pairs=len(pairs),
                   num_captions=len(captions))
    save_weights_file(clip.state_dict(), out_file)
    MMLogger.get_current_instance().info(
        'CLIP pretraining: loss {first_loss:.3f} -> {loss:.3f}, training retrieval '
        '{retrieval:.1%} over {num_captions} captions'.format(**metrics))
    return metrics
