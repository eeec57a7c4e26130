"""Tokenizers: a local Hugging Face directory, or a tiny BPE the project trains itself.

Both builders return a ``transformers`` fast/slow tokenizer with the Flamingo special
tokens added in OpenFlamingo's order (``<|endofchunk|>``, ``<image>``, then a ``<PAD>``
pad token when the tokenizer has none), so that a LLaMA tokenizer gets ids 32000, 32001
and 32002 and the 32003-row embedding of the released OpenFlamingo-9B checkpoint fits.

BOS is never added by the tokenizer: the template code places exactly one BOS at the
start of a sequence and an EOS after every response (see :mod:`mmgpt.templates`).
"""
from __future__ import annotations

import os
from pathlib import Path

from mmgpt.registry import TOKENIZERS

__all__ = ['MEDIA_TOKEN', 'EOC_TOKEN', 'PAD_TOKEN', 'build_tokenizer', 'add_flamingo_tokens',
           'pretrained_tokenizer', 'tiny_bpe_tokenizer']

MEDIA_TOKEN = '<image>'
EOC_TOKEN = '<|endofchunk|>'
PAD_TOKEN = '<PAD>'

_ASSETS = Path(__file__).resolve().parent / 'assets'
_CACHE: dict = {}


def add_flamingo_tokens(tokenizer, strip_markers: bool = False):
    """Add ``<|endofchunk|>``, ``<image>`` and a pad token (OpenFlamingo's order).

    Args:
        tokenizer: A ``transformers`` tokenizer; modified in place.
        strip_markers (bool): Make ``<|endofchunk|>`` and ``<image>`` eat the whitespace
            on both sides, as the 2023 slow tokenizers did with special tokens added as
            plain strings (see :func:`pretrained_tokenizer`'s ``historical``). Defaults
            to False.

    Returns:
        The same tokenizer.
    """
    from tokenizers import AddedToken  # installed with transformers

    missing = [t for t in (EOC_TOKEN, MEDIA_TOKEN) if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_tokens([AddedToken(t, special=True, normalized=False,
                                         lstrip=strip_markers, rstrip=strip_markers)
                              for t in missing], special_tokens=True)
    if tokenizer.pad_token is None:
        tokenizer.add_special_tokens({'pad_token': PAD_TOKEN})
    if tokenizer.bos_token is None or tokenizer.eos_token is None:
        raise ValueError(
            f'tokenizer {getattr(tokenizer, "name_or_path", "")!r} has no BOS/EOS token; '
            'the instruction template needs both')
    return tokenizer


def _use_legacy_prefix(tokenizer) -> None:
    """Give a LLaMA sentencepiece tokenizer the 2023 ``▁`` prefix after every special token.

    transformers 5 builds LLaMA's pre-tokenizer as ``Metaspace(prepend_scheme='first')``
    unless ``legacy=True``; the 2023 tokenizers (the slow sentencepiece one, and the fast
    one whose normalizer prepended ``▁``) put the prefix on every piece of text between
    special tokens, which is ``prepend_scheme='always'``.
    """
    from tokenizers import normalizers, pre_tokenizers

    backend = getattr(tokenizer, 'backend_tokenizer', None)
    pre = backend.pre_tokenizer if backend is not None else None
    if isinstance(pre, pre_tokenizers.Metaspace):
        backend.pre_tokenizer = pre_tokenizers.Metaspace(
            replacement=pre.replacement, prepend_scheme='always', split=pre.split)
        return
    norm = backend.normalizer if backend is not None else None
    if norm is not None and 'Prepend' in repr(norm) and isinstance(
            norm, (normalizers.Sequence, normalizers.Prepend)):
        return  # a 2023-style tokenizer.json: the prefix is already on every piece
    raise ValueError(
        f'historical=True reproduces the 2023 LLaMA sentencepiece encoding, but tokenizer '
        f'{getattr(tokenizer, "name_or_path", "")!r} ({type(tokenizer).__name__}) has no '
        'Metaspace pre-tokenizer; GPT-2, NeoX and OPT tokenizers encode as they did in '
        '2023 without it (docs/template.md)')


@TOKENIZERS.register_module('pretrained')
def pretrained_tokenizer(path: str, use_fast: bool | None = None, historical: bool = False,
                         **kwargs):
    """Load a tokenizer from a local directory (``AutoTokenizer.from_pretrained``).

    Args:
        path (str): A local directory such as ``checkpoints/llama-7b_hf``. Hub names
            are refused: nothing is downloaded at run time.
        use_fast (bool, optional): Passed to ``AutoTokenizer``. Defaults to None (its
            default).
        historical (bool): Encode exactly as the LLaMA tokenizer that OpenFlamingo-9B and
            the MultiModal-GPT release were trained with (transformers 4.28-4.30, 2023):
            text after a special token starts with ``▁`` (``legacy=True``), and
            ``<image>`` / ``<|endofchunk|>`` eat the whitespace around them (they were
            added as plain-string special tokens to the slow ``LlamaTokenizer``). For
            LLaMA sentencepiece tokenizers only; see docs/template.md. Defaults to False
            (today's encoding of the loaded tokenizer).
        **kwargs: More ``from_pretrained`` arguments.
    """
    from transformers import AutoTokenizer

    if not os.path.isdir(path):
        raise FileNotFoundError(
            f'tokenizer directory {path!r} does not exist; mmgpt loads tokenizers from '
            'local disk only (download the model first, see docs/install.md)')
    extra = {} if use_fast is None else dict(use_fast=use_fast)
    if historical:
        extra['legacy'] = True
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, **extra, **kwargs)
    if historical:
        _use_legacy_prefix(tokenizer)
    return add_flamingo_tokens(tokenizer, strip_markers=historical)


def _read_corpus(corpus_files, texts):
    lines = []
    for f in corpus_files:
        path = Path(f)
        if not path.is_absolute() and not path.exists():
            path = _ASSETS / f
        lines.extend(path.read_text(encoding='utf-8').splitlines())
    lines.extend(texts)
    return lines


@TOKENIZERS.register_module('tiny_bpe')
def tiny_bpe_tokenizer(vocab_size: int = 512,
                       corpus_files: tuple = ('tiny_corpus.txt',),
                       texts: tuple = ()):
    """Train a small byte-level BPE on the project's own text (no download).

    Deterministic: the same arguments give the same vocabulary on every machine, so a
    checkpoint trained with it can be chatted with later by rebuilding it from config.
    Every byte is in the alphabet, so any text can be encoded.

    Args:
        vocab_size (int): Size of the BPE vocabulary before the Flamingo tokens are
            added. Defaults to 512.
        corpus_files (tuple): Text files to learn merges from; relative names are looked
            up in ``mmgpt/assets``. Defaults to ``('tiny_corpus.txt',)``.
        texts (tuple): Extra lines to learn from. Defaults to ().
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    key = (vocab_size, tuple(corpus_files), tuple(texts))
    if key not in _CACHE:
        bpe = Tokenizer(models.BPE())
        bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        bpe.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=['<s>', '</s>', '<unk>'],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        bpe.train_from_iterator(_read_corpus(corpus_files, texts), trainer)
        _CACHE[key] = bpe.to_str()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_CACHE[key]),
        bos_token='<s>', eos_token='</s>', unk_token='<unk>')
    return add_flamingo_tokens(tokenizer)


def build_tokenizer(cfg):
    """Build a tokenizer from a config dict (``type='pretrained'`` or ``'tiny_bpe'``).

    A tokenizer object passes through unchanged.
    """
    if not isinstance(cfg, dict):
        return cfg
    return TOKENIZERS.build(dict(cfg))
