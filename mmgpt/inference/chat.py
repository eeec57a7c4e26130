"""The chat engine: a model, the unified template, and per-conversation state.

One :class:`ChatEngine` holds the model and serves any number of
:class:`Conversation` s. A conversation owns its turns and images (each image bound to the
turn it came with); the engine renders the prompt with the same template code as
training (:func:`mmgpt.templates.chat_prompt`), trims the oldest turns to fit the
context, generates, and stops at EOS or the template's next ``### Instruction:``.

Conversations never share state: the model's per-layer image conditioning is set and
cleared inside one locked ``generate`` call, so two conversations (or two threads) can
interleave freely.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from mmengine import Config
from mmengine.registry import init_default_scope
from PIL import Image

from mmgpt.models import load_checkpoint
from mmgpt.registry import MODELS
from mmgpt.templates import (
    chat_prompt,
    cut_at_stop_words,
    encode_segments,
    get_stop_words,
    segments_to_text,
)
from mmgpt.utils.image import build_image_transform, read_rgb_image

__all__ = ['GenerationOptions', 'Conversation', 'ChatEngine', 'ContextLengthError']


class ContextLengthError(ValueError):
    """The question alone (with its image and the new tokens) does not fit the context."""


@dataclass
class GenerationOptions:
    """Generation options, validated.

    Args:
        max_new_tokens (int): At most this many new tokens (1 to 4096). Defaults to 128.
        mode (str): ``'greedy'``, ``'beam'`` or ``'sample'``. Defaults to ``'greedy'``.
        num_beams (int): Beams for ``'beam'`` (2 to 16). Defaults to 3.
        temperature (float): For ``'sample'``, in (0, 5]. Defaults to 1.0.
        top_k (int): For ``'sample'``, 0 (off) to 1000. Defaults to 0.
        top_p (float): For ``'sample'``, in (0, 1]. Defaults to 1.0.
        repetition_penalty (float): In [1, 5] (1 is off). Defaults to 1.0.
        seed (int, optional): Seed for ``'sample'``. Defaults to None.
        stop (tuple[str]): Up to 8 more strings that end the answer (each 1 to 256
            characters), besides EOS and the template's stop words. Defaults to ().
    """

    max_new_tokens: int = 128
    mode: str = 'greedy'
    num_beams: int = 3
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    stop: tuple = ()

    #: The valid range of each numeric option (user interfaces read their limits here).
    RANGES = {
        'max_new_tokens': (1, 4096), 'num_beams': (2, 16), 'temperature': (1e-6, 5.0),
        'top_k': (0, 1000), 'top_p': (1e-6, 1.0), 'repetition_penalty': (1.0, 5.0),
    }

    def __post_init__(self):
        if self.mode not in ('greedy', 'beam', 'sample'):
            raise ValueError(f"mode must be 'greedy', 'beam' or 'sample', got {self.mode!r}")
        for name, (low, high) in self.RANGES.items():
            value = getattr(self, name)
            if name in ('max_new_tokens', 'num_beams', 'top_k') and (
                    isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f'{name} must be an integer, got {value!r}')
            if not low <= value <= high:
                raise ValueError(f'{name} must be in [{low:g}, {high:g}], got {value!r}')
        if isinstance(self.stop, str):
            self.stop = (self.stop,)
        self.stop = tuple(self.stop)
        if len(self.stop) > 8 or not all(
                isinstance(w, str) and 1 <= len(w) <= 256 for w in self.stop):
            raise ValueError(f'stop must be at most 8 strings of 1 to 256 characters, '
                             f'got {self.stop!r}')

    def generate_kwargs(self) -> dict:
        """The ``transformers`` generation arguments for these options."""
        kwargs = dict(max_new_tokens=self.max_new_tokens,
                      repetition_penalty=self.repetition_penalty)
        if self.mode == 'greedy':
            kwargs.update(do_sample=False, num_beams=1)
        elif self.mode == 'beam':
            kwargs.update(do_sample=False, num_beams=self.num_beams)
        else:
            kwargs.update(do_sample=True, num_beams=1, temperature=self.temperature,
                          top_k=self.top_k, top_p=self.top_p)
        return kwargs


@dataclass
class Conversation:
    """The state of one dialogue: turns, and images bound to the turn they came with.

    Attributes:
        turns (list[dict]): ``dict(instruction=..., input='', response=..., image=...)``;
            ``image`` is set on the turn an image was added before (a PIL image).
        pending_image (PIL.Image.Image, optional): An image added since the last question;
            it binds to the next question.
        last_prompt (str, optional): The exact prompt text of the last answer (after
            history trimming), with ``<BOS>`` shown.
        dropped_turns (int): Oldest turns the last answer dropped to fit the context.
        dropped_images (int): Images among them (the model no longer sees them).
        last_usage (dict, optional): Of the last answer: ``prompt_tokens``,
            ``completion_tokens`` and ``finish_reason`` (``'stop'`` at EOS or a stop
            string, ``'length'`` at ``max_new_tokens``).
    """

    turns: list = field(default_factory=list)
    pending_image: Image.Image | None = None
    last_prompt: str | None = None
    dropped_turns: int = 0
    dropped_images: int = 0
    last_usage: dict | None = None

    def add_image(self, image) -> None:
        """Add an image (a path or a PIL image); the next question is about it."""
        if not isinstance(image, Image.Image):
            image = read_rgb_image(str(image))
        self.pending_image = image.convert('RGB')

    def reset(self) -> None:
        """Forget every turn and image."""
        self.turns.clear()
        self.pending_image = None
        self.last_prompt = None
        self.last_usage = None

    @property
    def images(self) -> list:
        """The images of the kept turns, in order."""
        return [t['image'] for t in self.turns if t.get('image') is not None]


class _StopOnStrings:
    """Stop when the new text contains a stop string (a transformers criterion).

    Each step decodes only the tail that can hold a stop string ending at the newest
    token: the last ``longest stop + 2`` new tokens (every token decodes to at least one
    character; the extra two cover a stop split across tokens and a first token whose
    leading space the decoder strips). Stateless, so beam search may reorder rows.
    """

    def __init__(self, tokenizer, prompt_len: int, stop_words):
        self.tokenizer, self.prompt_len, self.stop_words = tokenizer, prompt_len, stop_words
        self.window = max((len(w) for w in stop_words), default=0) + 2

    def __call__(self, input_ids, scores, **kwargs):
        start = max(self.prompt_len, input_ids.shape[1] - self.window)
        texts = self.tokenizer.batch_decode(input_ids[:, start:])
        return torch.tensor([any(w in t for w in self.stop_words) for t in texts],
                            device=input_ids.device)


class _Streamer:
    """Feeds decoded text to a callback as tokens come, holding back a possible stop.

    Decoding is incremental: each step decodes the tokens since the last complete
    character plus one token of context (a character split over byte tokens waits for
    its last byte), and the stop strings are searched only in the new text and the
    ``longest stop - 1`` characters before it.
    """

    def __init__(self, tokenizer, callback: Callable[[str], None], stop_words, skip: int):
        self.tokenizer, self.callback, self.stop_words = tokenizer, callback, stop_words
        self.skip, self.ids, self.sent = skip, [], 0
        self.text, self.stopped = '', False
        self._prefix = self._read = 0  # ids[_prefix:_read] is context already in text
        self.hold = max((len(w) for w in stop_words), default=1) - 1

    def _decode(self, final: bool = False) -> str:
        prefix = self.tokenizer.decode(self.ids[self._prefix:self._read],
                                       skip_special_tokens=True)
        full = self.tokenizer.decode(self.ids[self._prefix:], skip_special_tokens=True)
        if not final and (len(full) <= len(prefix) or full.endswith('\ufffd')):
            return ''
        self._prefix, self._read = self._read, len(self.ids)
        return full[len(prefix):]

    def _extend(self, new: str) -> None:
        if self.stopped or not new:
            return
        start = max(len(self.text) - self.hold, 0)
        self.text += new
        cut = cut_at_stop_words(self.text[start:], self.stop_words)
        if len(cut) < len(self.text) - start:
            self.text, self.stopped = self.text[:start + len(cut)], True

    def put(self, value):
        if self.skip:  # transformers first puts the prompt
            self.skip = 0
            return
        self.ids += value.flatten().tolist()
        self._extend(self._decode())
        ready = len(self.text) - self.hold
        if ready > self.sent:
            self.callback(self.text[self.sent:ready])
            self.sent = ready

    def end(self):
        self._extend(self._decode(final=True))
        text = self.text.rstrip()
        if len(text) > self.sent:
            self.callback(text[self.sent:])
        self.sent = len(text)


class ChatEngine:
    """Generate answers for conversations with one MultiModalGPT.

    Args:
        model: A :class:`mmgpt.models.MultiModalGPT` (its trained weights loaded).
        image_transform (callable, optional): Maps an RGB PIL image to a ``(3, H, W)``
            tensor. Defaults to None: the model's vision tower's own preprocessing
            (:func:`mmgpt.utils.image.build_image_transform` of
            ``model.vision_encoder_cfg``).
        template (str, optional): Template name. Defaults to None: the model's
            (``model.template``, declared in the model config), the one it was trained in.
        max_context (int, optional): Prompt + answer token budget; older turns are
            dropped to fit. Defaults to the language model's ``max_position_embeddings``.
    """

    def __init__(self, model, image_transform=None, template: str | None = None,
                 max_context: int | None = None):
        self.model = model.eval()
        self.tokenizer = model.tokenizer
        if image_transform is None:
            image_transform = build_image_transform(model.vision_encoder_cfg)
        self.image_transform = image_transform
        self.template = template or model.template
        config = model.lang_encoder.config
        self.max_context = max_context or getattr(config, 'max_position_embeddings', 2048)
        self.stop_words = get_stop_words(self.template)
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config, checkpoint: str | None = None, device: str = 'cpu',
                    **kwargs) -> ChatEngine:
        """Build the model of an mmgpt config and load a trained checkpoint onto it.

        Args:
            config (str | Config): The training config (its ``model`` section).
            checkpoint (str, optional): A checkpoint written by training (trainable
                weights) or the MultiModal-GPT release's LoRA checkpoint, loaded
                strictly (:func:`mmgpt.models.load_checkpoint`). None keeps the base.
            device (str): Defaults to ``'cpu'``.
            **kwargs: More :class:`ChatEngine` arguments.
        """
        cfg = Config.fromfile(config) if isinstance(config, str) else config
        init_default_scope(cfg.get('default_scope', 'mmgpt'))
        model = MODELS.build(cfg.model)
        if checkpoint:
            load_checkpoint(model, checkpoint)
        model.to(device)
        return cls(model, **kwargs)

    def new_conversation(self) -> Conversation:
        """A fresh, empty conversation."""
        return Conversation()

    # ---------------------------------------------------------------- prompts
    def _render(self, turns: list):
        conversation = dict(image=turns[0].get('image') if turns else None, turns=turns)
        return chat_prompt(conversation, self.template)

    def prompt_text(self, conv: Conversation, question: str | None = None,
                    context: str = '') -> str:
        """The exact prompt text the model would get (with ``<BOS>``/``<EOS>`` shown)."""
        turns = self._pending_turns(conv, question or '', context)
        return segments_to_text(self._render(self._fit(turns, 0)[0]))

    def _pending_turns(self, conv: Conversation, question: str, context: str = '') -> list:
        turn = dict(instruction=question, input=context, response=None,
                    image=conv.pending_image)
        return conv.turns + [turn]

    def _fit(self, turns: list, max_new_tokens: int) -> tuple:
        """Drop the oldest turns until prompt + answer fit the context."""
        while True:
            ids, _ = encode_segments(self._render(turns), self.tokenizer)
            if len(ids) + max_new_tokens <= self.max_context:
                return turns, ids
            if len(turns) == 1:
                raise ContextLengthError(
                    f'the question needs {len(ids)} prompt tokens + {max_new_tokens} new '
                    f'tokens, more than the context of {self.max_context}')
            turns = turns[1:]

    # --------------------------------------------------------------- generate
    def ask(self, conv: Conversation, question: str, options: GenerationOptions | None = None,
            stream: Callable[[str], None] | None = None, context: str = '') -> str:
        """Answer ``question`` in ``conv`` and record the turn.

        Args:
            conv (Conversation): The conversation (its pending image binds to this turn).
            question (str): The user's text; newlines are kept.
            options (GenerationOptions, optional): Defaults to greedy, 128 tokens.
            stream (callable, optional): Called with each new piece of text as it is
                generated (an exception it raises aborts the generation).
            context (str): The turn's ``### Input:`` text (extra context for the
                question). Defaults to '' (no Input section).

        Returns:
            str: The answer (stop strings and EOS removed). ``conv.dropped_turns`` and
            ``conv.dropped_images`` then say what history trimming removed.

        Raises:
            ValueError: The question alone does not fit the context; ``conv`` is unchanged.
        """
        options = options or GenerationOptions()
        pending = self._pending_turns(conv, question, context)
        turns, ids = self._fit(pending, options.max_new_tokens)
        conv.last_prompt = segments_to_text(self._render(turns))
        answer, conv.last_usage = self._generate(turns, ids, options, stream)
        turns[-1]['response'] = answer
        dropped = pending[:len(pending) - len(turns)]
        conv.dropped_turns = len(dropped)
        conv.dropped_images = sum(t.get('image') is not None for t in dropped)
        conv.turns[:] = turns
        conv.pending_image = None
        return answer

    def _generate(self, turns, ids, options, stream) -> tuple[str, dict]:
        images = [t['image'] for t in turns if t.get('image') is not None]
        device = next(self.model.parameters()).device
        input_ids = torch.tensor([ids], device=device)
        pixels = None
        if images:
            pixels = torch.stack([self.image_transform(im) for im in images])[None, :, None]
            pixels = pixels.to(device)
        kwargs = options.generate_kwargs()
        stop_words = self.stop_words + list(options.stop)
        kwargs['stopping_criteria'] = [_StopOnStrings(self.tokenizer, len(ids), stop_words)]
        streamer = None
        if stream is not None and options.mode != 'beam':
            streamer = kwargs['streamer'] = _Streamer(self.tokenizer, stream, stop_words,
                                                      skip=1)
        with self._lock:
            if options.seed is not None:
                torch.manual_seed(options.seed)
            new = self.model.generate(input_ids, images=pixels, **kwargs)
        full = self.tokenizer.decode(new[0], skip_special_tokens=True)
        text = cut_at_stop_words(full, stop_words).strip()
        if stream is not None and streamer is None:
            stream(text)
        ended = self.tokenizer.eos_token_id in new[0].tolist() or len(text) < len(full.strip())
        usage = dict(prompt_tokens=len(ids), completion_tokens=int(new.shape[1]),
                     finish_reason='stop' if ended or new.shape[1] < options.max_new_tokens
                     else 'length')
        return text, usage
