"""The unified instruction template of MultiModal-GPT, as data plus one renderer.

Training, chat and evaluation all call :func:`render` (or :func:`chat_prompt`) and
:func:`encode_segments`, so the model sees the same text everywhere. The text of the
``'mmgpt'`` template (PAPER.md, Tables 1 and 2)::

    <BOS>Below is an instruction that describes a task. Write a response that appropriately completes the request.

    ### Image:
    <image>

    ### Instruction:
    {instruction}

    ### Input:
    {input}

    ### Response:
    {response}<EOS>

``### Image:`` appears only when the conversation has an image, ``### Input:`` only when
the turn's input is non-empty; further turns repeat Instruction (Input) / Response. In
chat, an image given with a later turn (``turns[i]['image']`` for i > 0) gets its own
``### Image:`` section before that turn's instruction; text after it attends to it.

The ``'openflamingo'`` template is OpenFlamingo's plain caption form
``<BOS><image>{response}<|endofchunk|><EOS>`` (instructions are ignored), used for
caption pretraining.

The renderer returns :class:`Segment` s: pieces of text with a ``supervised`` flag, and
markers for the tokens that are not characters of the text (BOS, EOS, the media token and
``<|endofchunk|>``). :func:`encode_segments` turns them into token ids and labels; the
tokenizer itself never adds BOS or EOS, and ``<image>`` / ``</s>`` typed inside user
text stay plain text (they are never parsed as special tokens).
"""  # noqa: E501
from __future__ import annotations

import bisect
import weakref
from dataclasses import dataclass
from typing import NamedTuple

from mmgpt.tokenizer import EOC_TOKEN, MEDIA_TOKEN

__all__ = [
    'Template', 'Segment', 'TEMPLATES', 'IGNORE_INDEX', 'BOS', 'EOS', 'MEDIA', 'EOC',
    'get_template', 'render', 'chat_prompt', 'segments_to_text', 'encode_segments',
    'get_stop_words', 'DEFAULT_TEMPLATE', 'cut_at_stop_words',
]

#: Label value of tokens that do not count in the loss.
IGNORE_INDEX = -100

#: Kinds of special segments (tokens that are not characters of the text).
BOS, EOS, MEDIA, EOC = 'bos', 'eos', 'media', 'eoc'

_SYSTEM = ('Below is an instruction that describes a task. '
           'Write a response that appropriately completes the request.')


@dataclass(frozen=True)
class Template:
    """An instruction template, as data.

    Args:
        name (str): Name used in configs (``template='mmgpt'``).
        style (str): ``'instruction'`` (system line and ``### `` sections) or
            ``'plain'`` (OpenFlamingo's ``<image>text<|endofchunk|>``).
        system (str): The system line after BOS. Defaults to the paper's.
        image_header (str): Defaults to ``'### Image:'``.
        instruction_header (str): Defaults to ``'### Instruction:'``.
        input_header (str): Defaults to ``'### Input:'``.
        response_header (str): Defaults to ``'### Response:'``.
        section_sep (str): Text before every header. Defaults to ``'\\n\\n'``.
        header_sep (str): Text after every header. Defaults to ``'\\n'``.
        stop_words (tuple): Strings that end generation, besides EOS.
        plain_instruction (bool): In the ``'plain'`` style, put each turn's instruction
            (unsupervised, then a newline) before its response. Defaults to False.
        history_eos (bool): In a chat prompt, end each earlier response with EOS, as in
            training. False gives the MultiModal-GPT release's demo prompt (earlier
            answers joined without EOS); training text keeps every EOS. Defaults to True.
    """

    name: str
    style: str = 'instruction'
    system: str = _SYSTEM
    image_header: str = '### Image:'
    instruction_header: str = '### Instruction:'
    input_header: str = '### Input:'
    response_header: str = '### Response:'
    section_sep: str = '\n\n'
    header_sep: str = '\n'
    stop_words: tuple = ('### Instruction:',)
    plain_instruction: bool = False
    history_eos: bool = True

    def section(self, header: str, body: str = '') -> str:
        """``section_sep + header + header_sep + body``."""
        return f'{self.section_sep}{header}{self.header_sep}{body}'


#: The template a model is trained and chatted in unless its config names another
#: (``model.template``; the pipeline, chat and evaluation read it from the model).
DEFAULT_TEMPLATE = 'mmgpt'

#: The templates a config may name.
TEMPLATES = {
    'mmgpt': Template(name='mmgpt'),
    'openflamingo': Template(name='openflamingo', style='plain', system='',
                             stop_words=('<|endofchunk|>',)),
    # OpenFlamingo's plain form for interleaved documents where text precedes each answer
    # (`<image>question\nanswer<|endofchunk|>`): pretraining text that stands in for what
    # a pretrained LM already knows (the demo's stage 1); not an instruction template.
    'openflamingo_interleaved': Template(name='openflamingo_interleaved', style='plain',
                                         system='', stop_words=('<|endofchunk|>',),
                                         plain_instruction=True),
    # The MultiModal-GPT release's demo prompt (its app.py): the same text, one BOS, but
    # earlier answers not followed by EOS. Only to reproduce the release's answers
    # (configs/mmgpt_release_v0.py); the model was trained with per-turn BOS/EOS.
    'mmgpt_release_v0': Template(name='mmgpt_release_v0', history_eos=False),
}


class Segment(NamedTuple):
    """A piece of the rendered sequence.

    Args:
        text (str): The text; empty for special segments.
        supervised (bool): Whether its tokens count in the loss.
        special (str, optional): ``'bos'``, ``'eos'``, ``'media'`` or ``'eoc'`` for a
            single special token; None for text.
        turn (int): The turn it belongs to (the system line and image belong to turn 0);
            sequences are cut only between turns.
    """

    text: str
    supervised: bool
    special: str | None = None
    turn: int = 0


def get_template(template: str | Template) -> Template:
    """Look a template up by name (a :class:`Template` passes through)."""
    if isinstance(template, Template):
        return template
    if template not in TEMPLATES:
        raise KeyError(f'unknown template {template!r}; known: {sorted(TEMPLATES)}')
    return TEMPLATES[template]


def _check_conversation(conversation: dict) -> list:
    turns = conversation.get('turns')
    if not turns:
        raise ValueError(f'conversation {conversation.get("id", "")!r} has no turns')
    return turns


def _render_instruction(tpl: Template, conversation: dict, open_last: bool) -> list:
    turns = _check_conversation(conversation)
    segs = [Segment('', False, BOS), Segment(tpl.system, False)]
    if conversation.get('image') is not None:
        segs += [Segment(tpl.section(tpl.image_header), False), Segment('', False, MEDIA)]
    for i, turn in enumerate(turns):
        if i > 0 and turn.get('image') is not None:  # an image that came with a later turn
            segs += [Segment(tpl.section(tpl.image_header), False, turn=i),
                     Segment('', False, MEDIA, turn=i)]
        prompt = tpl.section(tpl.instruction_header, turn['instruction'])
        if turn.get('input'):
            prompt += tpl.section(tpl.input_header, turn['input'])
        prompt += tpl.section(tpl.response_header)
        segs.append(Segment(prompt, False, turn=i))
        if open_last and i == len(turns) - 1:
            break
        segs.append(Segment(turn['response'], True, turn=i))
        if tpl.history_eos or not open_last:
            segs.append(Segment('', True, EOS, turn=i))
    return segs


def _render_plain(tpl: Template, conversation: dict, open_last: bool) -> list:
    turns = _check_conversation(conversation)
    segs = [Segment('', False, BOS)]
    if conversation.get('image') is not None:
        segs.append(Segment('', False, MEDIA))
    for i, turn in enumerate(turns):
        if tpl.plain_instruction and turn.get('instruction'):
            segs.append(Segment(turn['instruction'] + '\n', False, turn=i))
        if open_last and i == len(turns) - 1:
            return segs
        segs += [Segment(turn['response'], True, turn=i), Segment('', True, EOC, turn=i)]
    segs.append(Segment('', True, EOS, turn=len(turns) - 1))
    return segs


def _merge(segments: list) -> list:
    """Join neighbouring text segments of the same turn and supervision."""
    out = []
    for seg in segments:
        prev = out[-1] if out else None
        if (prev is not None and seg.special is None and prev.special is None
                and prev.supervised == seg.supervised and prev.turn == seg.turn):
            out[-1] = prev._replace(text=prev.text + seg.text)
        elif seg.special is not None or seg.text:
            out.append(seg)
    return out


def render(conversation: dict, template: str | Template = DEFAULT_TEMPLATE,
           add_generation_prompt: bool = False) -> list:
    """Render a conversation into segments.

    Args:
        conversation (dict): ``dict(image=<path or None>, turns=[dict(instruction=...,
            input=..., response=...), ...])``.
        template (str | Template): ``'mmgpt'`` or ``'openflamingo'``. Defaults to
            ``'mmgpt'``.
        add_generation_prompt (bool): Stop after the last ``### Response:\\n`` (the last
            turn's response and its EOS are left out; the response may be missing or
            None). Defaults to False (the training form).

    Returns:
        list[Segment]: Segments in order; neighbouring text of the same turn and
        supervision is merged, which fixes the units that are tokenized.
    """
    tpl = get_template(template)
    if tpl.style == 'plain':
        segs = _render_plain(tpl, conversation, add_generation_prompt)
    else:
        segs = _render_instruction(tpl, conversation, add_generation_prompt)
    return _merge(segs)


def chat_prompt(conversation: dict, template: str | Template = DEFAULT_TEMPLATE) -> list:
    """The prompt for generating the last turn's response (chat and evaluation).

    Equal, segment for segment (and so token for token), to the training rendering of
    the same conversation without its last response and that response's EOS.
    """
    return render(conversation, template, add_generation_prompt=True)


def segments_to_text(segments: list, bos: str = '<BOS>', eos: str = '<EOS>',
                     media: str = '<image>', eoc: str = '<|endofchunk|>') -> str:
    """The rendered text, with special segments shown by placeholders.

    Args:
        segments (list[Segment]): From :func:`render`.
        bos (str): Text shown for BOS. Defaults to ``'<BOS>'``.
        eos (str): Text shown for EOS. Defaults to ``'<EOS>'``.
        media (str): Text shown for the media token. Defaults to ``'<image>'``.
        eoc (str): Text shown for end-of-chunk. Defaults to ``'<|endofchunk|>'``.
    """
    shown = {BOS: bos, EOS: eos, MEDIA: media, EOC: eoc}
    return ''.join(shown[s.special] if s.special else s.text for s in segments)


def _special_ids(tokenizer) -> dict:
    ids = {BOS: tokenizer.bos_token_id, EOS: tokenizer.eos_token_id,
           MEDIA: tokenizer.convert_tokens_to_ids(MEDIA_TOKEN),
           EOC: tokenizer.convert_tokens_to_ids(EOC_TOKEN)}
    unk = getattr(tokenizer, 'unk_token_id', None)
    for kind, tid in ids.items():
        if tid is None or (tid == unk and kind in (MEDIA, EOC)):
            raise ValueError(f'tokenizer has no id for the {kind!r} token; build it with '
                             'mmgpt.tokenizer.build_tokenizer (adds the Flamingo tokens)')
    return ids


#: Private-use strings that stand for the markers inside the one encoded string. They
#: are added, as ordinary (not special) tokens with the real marker's strip flags, to a
#: private copy of the tokenizer's backend, so they split the text exactly where the
#: real marker tokens would, while every special-token string in the user's text stays
#: text (the copy encodes with ``encode_special_tokens``, i.e. ``split_special_tokens``).
_SENTINEL = '\ue000mmgpt-{}\ue001'
_MARKER_BACKENDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _marker_backend(tokenizer):
    """A cached copy of the tokenizer's backend with one sentinel token per marker.

    Returns:
        tuple: ``(backend, {sentinel id: marker kind}, {marker kind: real id})``.
    """
    cached = _MARKER_BACKENDS.get(tokenizer)
    if cached is not None and cached[0] == len(tokenizer):
        return cached[1:]
    from tokenizers import AddedToken, Tokenizer  # installed with transformers

    special = _special_ids(tokenizer)
    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.no_truncation()
    backend.no_padding()
    decoder = getattr(tokenizer, 'added_tokens_decoder', {})
    kinds = {}
    for kind, tid in special.items():
        real = decoder.get(tid)
        flags = dict(lstrip=real.lstrip, rstrip=real.rstrip) if real is not None else {}
        backend.add_tokens([AddedToken(_SENTINEL.format(kind), special=False,
                                       normalized=False, **flags)])
        kinds[backend.token_to_id(_SENTINEL.format(kind))] = kind
    backend.encode_special_tokens = True
    _MARKER_BACKENDS[tokenizer] = (len(tokenizer), backend, kinds, special)
    return backend, kinds, special


def _flatten(segments: list) -> tuple:
    """The one string to encode, and each segment's character span in it.

    A leading BOS is not part of the string: it is placed as its id before the encoded
    text, as the tokenizer's own ``add_special_tokens`` places it, so the first text is
    encoded as the start of a string (LLaMA's ``▁`` prefix, GPT-2's plain first word).
    """
    parts, spans, pos = [], [], 0
    for i, seg in enumerate(segments):
        if seg.special is None:
            if '\ue000mmgpt-' in seg.text:
                raise ValueError('conversation text contains the reserved marker string '
                                 f'{seg.text[seg.text.index(chr(0xe000)):][:20]!r}')
            piece = seg.text
        else:
            piece = '' if (i == 0 and seg.special == BOS) else _SENTINEL.format(seg.special)
        spans.append((pos, pos + len(piece)))
        parts.append(piece)
        pos += len(piece)
    return ''.join(parts), spans


def _label_tokens(segments: list, spans: list, offsets: list, marker_at: list) -> tuple:
    """Assign every encoded token to a segment from its character offsets.

    A text token belongs to the segment (and turn) its first character is in, and is
    supervised when any of its characters lies in a supervised text segment (a token
    that straddles the end of a prompt and the start of a response is supervised, so no
    character of a response is left out of the loss). A zero-width token (LLaMA's ``▁``
    prefix after a special token) counts as the character it is attached to. A marker
    token belongs to its marker segment (the next one in order), whatever whitespace a
    stripping marker ate. Work is per segment, not per token.

    Args:
        segments (list[Segment]): The segments.
        spans (list[tuple]): Each segment's character span in the encoded string.
        offsets (list[tuple]): Each token's character span.
        marker_at (list[int]): Indices of the marker tokens, in order.
    """
    n = len(offsets)
    starts = [start for start, _ in offsets]
    bounds = [bisect.bisect_left(starts, a) for a, _ in spans] + [n]
    supervised, turns = [False] * n, [0] * n
    for i, seg in enumerate(segments):
        lo, hi = bounds[i], max(bounds[i + 1], bounds[i])
        if hi > lo:
            supervised[lo:hi] = [seg.supervised] * (hi - lo)
            turns[lo:hi] = [seg.turn] * (hi - lo)
        a, b = spans[i]
        if (seg.supervised and seg.special is None and b > a and lo > 0
                and offsets[lo - 1][1] > a):
            supervised[lo - 1] = True  # a token that straddles into this response
    marker_segments = [i for i, (a, b) in enumerate(spans)
                       if segments[i].special is not None and b > a]
    for k, i in zip(marker_at, marker_segments):
        supervised[k], turns[k] = segments[i].supervised, segments[i].turn
    return supervised, turns


def _encode_runs(segments: list, tokenizer, special: dict) -> tuple:
    """Tokenizers without a Rust backend: each text run between markers is encoded with
    one call (as such a tokenizer encodes the pieces between special tokens itself), and
    a run's supervision boundaries are found by encoding its prefixes."""
    ids, sup, turns = [], [], []
    run = []

    def flush():
        text = ''.join(s.text for s in run)
        if not text:
            return
        piece = tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True)
        bounds, pos = [], 0
        for seg in run[:-1]:
            pos += len(seg.text)
            bounds.append(len(tokenizer.encode(text[:pos], add_special_tokens=False,
                                               split_special_tokens=True)))
        bounds.append(len(piece))
        start = 0
        for seg, stop in zip(run, bounds):
            n = max(stop - start, 0)
            sup.extend([seg.supervised] * n)
            turns.extend([seg.turn] * n)
            start = max(start, stop)
        ids.extend(piece)
        run.clear()

    for seg in segments:
        if seg.special is None:
            run.append(seg)
            continue
        flush()
        ids.append(special[seg.special])
        sup.append(seg.supervised)
        turns.append(seg.turn)
    flush()
    return ids, sup, turns


def encode_segments(segments: list, tokenizer, with_turns: bool = False):
    """Tokenize segments the way the tokenizer encodes the whole rendered string.

    The segments are joined into one string, with each marker (EOS, ``<image>``,
    ``<|endofchunk|>``) in its place, and encoded with ONE call of the tokenizer's
    backend, with character offsets; a leading BOS is placed as its id, as the
    tokenizer's own ``add_special_tokens`` places it. So the ids are the tokenizer's
    encoding of the full text (docs/template.md): no extra ``▁`` at segment joins, and
    whatever the tokenizer does after a special token (LLaMA's ``legacy`` prefix, the
    strip flags of an added token) happens here too. Each marker is one id, and a
    special-token string typed in the text (``<image>``, ``</s>``) stays text, encoded as
    ``split_special_tokens=True`` encodes it. The offsets decide the labels: a token is
    supervised when any of its characters is in a response (see :func:`_label_tokens`);
    every EOS after a response is supervised, BOS and ``<image>`` never are.

    Args:
        segments (list[Segment]): From :func:`render` or :func:`chat_prompt`.
        tokenizer: A tokenizer from :func:`mmgpt.tokenizer.build_tokenizer`.
        with_turns (bool): Also return the turn index of every token. Defaults to False.

    Returns:
        tuple: ``(input_ids, labels)`` lists of ints, labels equal to the ids on
        supervised tokens and :data:`IGNORE_INDEX` elsewhere; plus ``turns`` when
        ``with_turns``.
    """
    if getattr(tokenizer, 'backend_tokenizer', None) is None:
        special = _special_ids(tokenizer)
        ids, sup, turns = _encode_runs(segments, tokenizer, special)
    else:
        backend, kinds, special = _marker_backend(tokenizer)
        text, spans = _flatten(segments)
        enc = backend.encode(text, add_special_tokens=False)
        ids = [special[kinds[i]] if i in kinds else i for i in enc.ids]
        sup, turns = _label_tokens(segments, spans, enc.offsets,
                                   [k for k, i in enumerate(enc.ids) if i in kinds])
        if segments and segments[0].special == BOS:
            ids.insert(0, special[BOS])
            sup.insert(0, segments[0].supervised)
            turns.insert(0, segments[0].turn)
    labels = [i if s else IGNORE_INDEX for i, s in zip(ids, sup)]
    return (ids, labels, turns) if with_turns else (ids, labels)


def get_stop_words(template: str | Template = DEFAULT_TEMPLATE,
                   eos_token: str | None = None) -> list:
    """Strings that end generation: the template's stop words, then EOS if given.

    Args:
        template (str | Template): Defaults to ``'mmgpt'``.
        eos_token (str, optional): The tokenizer's EOS string. Defaults to None.
    """
    words = list(get_template(template).stop_words)
    return words + [eos_token] if eos_token else words


def cut_at_stop_words(text: str, stop_words) -> str:
    """The text before the first stop word (the whole text when none occurs).

    Args:
        text (str): Generated text.
        stop_words (Iterable[str]): From :func:`get_stop_words`.
    """
    cut = min((text.find(w) for w in stop_words if w in text), default=-1)
    return text if cut < 0 else text[:cut]
