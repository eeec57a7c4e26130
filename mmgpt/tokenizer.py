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


def add_flamingo_tokens(tokenizer):
    """Add ``<|endofchunk|>``, ``<image>`` and a pad token (OpenFlamingo's order).

    Args:
        tokenizer: A ``transformers`` tokenizer; modified in place.

    Returns:
        The same tokenizer.
    """
    missing = [t for t in (EOC_TOKEN, MEDIA_TOKEN) if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    if tokenizer.pad_token is None:
        tokenizer.add_special_tokens({'pad_token': PAD_TOKEN})
    if tokenizer.bos_token is None or tokenizer.eos_token is None:
        raise ValueError(
            f'tokenizer {getattr(tokenizer, "name_or_path", "")!r} has no BOS/EOS token; '
            'the instruction template needs both')
    return tokenizer


@TOKENIZERS.register_module('pretrained')
def pretrained_tokenizer(path: str, use_fast: bool | None = None, **kwargs):
    """Load a tokenizer from a local directory (``AutoTokenizer.from_pretrained``).

    Args:
        path (str): A local directory such as ``checkpoints/llama-7b_hf``. Hub names
            are refused: nothing is downloaded at run time.
        use_fast (bool, optional): Passed to ``AutoTokenizer``. Defaults to None (its
            default).
        **kwargs: More ``from_pretrained`` arguments.
    """
    from transformers import AutoTokenizer

    if not os.path.isdir(path):
        raise FileNotFoundError(
            f'tokenizer directory {path!r} does not exist; mmgpt loads tokenizers from '
            'local disk only (download the model first, see docs/install.md)')
    extra = {} if use_fast is None else dict(use_fast=use_fast)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, **extra, **kwargs)
    return add_flamingo_tokens(tokenizer)


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
