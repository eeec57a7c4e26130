"""Helpers for tests and benchmarks: the tiny model and ways to make it image-sensitive.

The tiny model is the one of ``configs/_base_/models/mmgpt_tiny.py`` (random init, builds
in seconds on a CPU, nothing downloaded).
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import torch
from mmengine import Config
from mmengine.registry import DefaultScope, init_default_scope

from mmgpt.registry import MODELS
from mmgpt.templates import TEMPLATES

__all__ = ['TINY_MODEL_CONFIG', 'tiny_model_cfg', 'build_tiny', 'open_gates',
           'randomize_lora', 'image_sensitive_tiny', 'vl_prompt', 'template_corpus_lines',
           'llama_style_tokenizer_dir', 'write_fixture_data']

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The tiny model's config file (in the source tree).
TINY_MODEL_CONFIG = os.path.join(_REPO, 'configs', '_base_', 'models', 'mmgpt_tiny.py')


def tiny_model_cfg(**overrides) -> dict:
    """The tiny model config as a plain dict, with top-level keys replaced."""
    cfg = copy.deepcopy(Config.fromfile(TINY_MODEL_CONFIG).model.to_dict())
    cfg.update(overrides)
    return cfg


def build_tiny(seed: int = 0, **overrides):
    """Build the tiny MultiModalGPT (eval mode) with a fixed seed."""
    if DefaultScope.get_current_instance() is None:
        init_default_scope('mmgpt')
    torch.manual_seed(seed)
    return MODELS.build(tiny_model_cfg(**overrides)).eval()


def open_gates(model, value: float = 2.0):
    """Open every gated cross-attention (gates start at 0, where images do not matter)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('attn_gate') or name.endswith('ff_gate'):
                p.fill_(value)


def randomize_lora(model, seed: int = 1, scale: float = 0.1):
    """Give the LoRA B matrices random values (they start at 0: an identity adapter)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'lora_B' in name:
                p.copy_(torch.randn(p.shape, generator=g) * scale)


def image_sensitive_tiny(**overrides):
    """The tiny model with open gates and random LoRA (scale 0.5): its greedy answers
    depend on the image, as a trained model's do.

    Args:
        **overrides: Top-level model config keys to replace (:func:`tiny_model_cfg`).
    """
    model = build_tiny(**overrides)
    open_gates(model)
    randomize_lora(model, scale=0.5)
    return model


def vl_prompt(model, question: str = 'What is in the picture?') -> torch.Tensor:
    """Token ids ``(1, L)`` of a prompt with text before and after ``<image>``."""
    tok = model.tokenizer
    text = ('Below is an instruction.\n\n### Image:\n<image>\n\n### Instruction:\n'
            f'{question}\n\n### Response:\n')
    return torch.tensor([[tok.bos_token_id] + tok.encode(text, add_special_tokens=False)])


_WORDS = ('cat dog red blue square circle image picture colour shape small large the a is '
          'what where which left right top bottom describe answer question response '
          'instruction input below task write request completes appropriately').split()


def template_corpus_lines(n: int = 300) -> list:
    """A few hundred deterministic lines in the template's vocabulary (no newlines)."""
    lines = []
    for i in range(n):
        words = [_WORDS[(i * 7 + j * 3) % len(_WORDS)] for j in range(4 + i % 9)]
        lines.append(' '.join(words).capitalize() + ('?' if i % 3 else '.'))
        if i % 10 == 0:  # as in LLaMA, '\n' stays out of the pieces (a byte piece)
            lines += ['### Instruction:', '### Response:', '### Image:', '### Input:',
                      TEMPLATES['mmgpt'].system]
    return lines


def llama_style_tokenizer_dir(directory, lines: list | None = None,
                              vocab_size: int = 480) -> str:
    """Train a LLaMA-style sentencepiece model into ``directory`` (no download).

    BPE with byte fallback, identity normalisation and the ``▁`` dummy prefix, as
    LLaMA's ``tokenizer.model``; written as ``tokenizer.model`` with a
    ``tokenizer_config.json`` naming ``LlamaTokenizer``, so ``from_pretrained`` (and
    ``build_tokenizer(dict(type='pretrained', path=...))``) load it.

    Returns:
        str: The directory.
    """
    import json

    import sentencepiece as spm  # only for this helper

    os.makedirs(directory, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines or template_corpus_lines()),
        model_prefix=os.path.join(str(directory), 'tokenizer'), vocab_size=vocab_size,
        model_type='bpe', byte_fallback=True, character_coverage=1.0,
        normalization_rule_name='identity', add_dummy_prefix=True,
        remove_extra_whitespaces=False, split_digits=True, allow_whitespace_only_pieces=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2, num_threads=1)
    with open(os.path.join(str(directory), 'tokenizer_config.json'), 'w') as f:
        json.dump(dict(tokenizer_class='LlamaTokenizer', bos_token='<s>', eos_token='</s>',
                       unk_token='<unk>'), f)
    return str(directory)


_FIXTURE_COLORS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200)]


def _fixture_image(path: Path, k: int) -> str:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new('RGB', (40, 32), _FIXTURE_COLORS[k % len(_FIXTURE_COLORS)]).save(path, format='JPEG')
    return path.name


def _fixture_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding='utf-8')


def _fixture_qa(q: str, a: str) -> list:
    return [dict(**{'from': 'human', 'value': f'<image>\n{q}'}),
            dict(**{'from': 'gpt', 'value': a})]


def write_fixture_data(root: str | os.PathLike, per_dataset: int = 2) -> dict:
    """Write a miniature ``data/`` tree under ``root``: every public format the paper's
    data config reads (configs/_base_/datasets/mmgpt_joint_data.py), ``per_dataset``
    records per file, with solid-colour images. ``tools/make_fixture_data.py`` writes it
    for ``configs/tiny/mmgpt_tiny_fixture.py``.

    Args:
        root (str | PathLike): The folder that will hold ``data/``.
        per_dataset (int): Records per annotation file. Defaults to 2.

    Returns:
        dict: ``vl`` and ``lang``: the number of samples of each modality.
    """
    data, n = Path(root) / 'data', per_dataset
    coco17 = data / 'coco' / 'train2017'
    names = [_fixture_image(coco17 / f'{k:012d}.jpg', k) for k in range(n)]
    for name in ('detail_23k', 'complex_reasoning_77k'):
        _fixture_json(data / 'llava' / f'{name}.json', [
            dict(id=names[k][:-4], image=names[k],
                 conversations=_fixture_qa(f'What colour is picture {k}?', f'It is colour {k}.'))
            for k in range(n)])
    _fixture_json(data / 'llava' / 'conversation_58k.json', [
        dict(id=names[k][:-4], image=names[k],
             conversations=_fixture_qa('Describe it.', 'A plain colour.') + [
                 dict(**{'from': 'human', 'value': 'Anything else?'}),
                 dict(**{'from': 'gpt', 'value': 'No, nothing else.'})])
        for k in range(n)])
    _fixture_json(data / 'cc_sbu_align' / 'filter_cap.json', dict(annotations=[
        dict(image_id=str(k), caption=f'A flat image of colour {k}.') for k in range(n)]))
    for k in range(n):
        _fixture_image(data / 'cc_sbu_align' / 'image' / f'{k}.jpg', k)
    _fixture_json(data / 'aokvqa' / 'aokvqa_v1p0_train.json', [
        dict(split='train', image_id=k, question_id=f'q{k}', question='Which colour?',
             choices=['red', 'green', 'blue', 'yellow'], correct_choice_idx=k % 4,
             direct_answers=['red'] * 10, difficult_direct_answer=False,
             rationales=['The whole image has one colour.'])
        for k in range(n)])
    coco14 = data / 'coco' / 'train2014'
    _fixture_json(data / 'coco' / 'annotations' / 'coco_karpathy_train.json', [
        dict(caption=f'A square of colour {k}.', image_id=f'coco_{k}',
             image='train2014/' + _fixture_image(coco14 / f'COCO_train2014_{k:012d}.jpg', k))
        for k in range(n)])
    _fixture_json(data / 'OCR_VQA' / 'dataset.json', {
        f'{1000 + k}': dict(imageURL=f'http://example.com/{1000 + k}.jpg',
                            questions=['Who wrote this book?'], answers=[f'Author {k}'],
                            title=f'Title {k}', authorName=f'Author {k}', genre='Travel',
                            split=1)
        for k in range(n)})
    for k in range(n):
        _fixture_image(data / 'OCR_VQA' / 'images' / f'{1000 + k}.jpg', k)
    dolly = data / 'dolly' / 'databricks-dolly-15k.jsonl'
    dolly.parent.mkdir(parents=True, exist_ok=True)
    dolly.write_text(''.join(json.dumps(dict(
        instruction=f'Count to {k + 1}.', context='', response=' '.join(
            str(i) for i in range(1, k + 2)), category='open_qa')) + '\n' for k in range(n)))
    _fixture_json(data / 'alpaca_gpt4' / 'alpaca_gpt4_data.json', [
        dict(instruction='Name a colour.', input=f'number {k}', output=f'Colour {k}.')
        for k in range(n)])
    return dict(vl=7 * n, lang=2 * n)
