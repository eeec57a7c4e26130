"""The incremental stop check and streamer: the same stops as decoding everything."""
import random

import pytest
import torch

from mmgpt.inference.chat import _StopOnStrings, _Streamer
from mmgpt.inference.stop_reference import FullDecodeStop as OldStop
from mmgpt.inference.stop_reference import FullDecodeStreamer as OldStreamer
from mmgpt.templates import get_stop_words
from mmgpt.tokenizer import build_tokenizer


@pytest.fixture(scope='module')
def tok():
    return build_tokenizer(dict(type='tiny_bpe'))


def first_stop(criterion, prompt, new_ids):
    """The step (number of new tokens) at which a criterion first says stop, or None."""
    for step in range(1, len(new_ids) + 1):
        ids = torch.tensor([prompt + new_ids[:step]])
        if bool(criterion(ids, None)[0]):
            return step
    return None


def stream(streamer, ids):
    streamer.put(torch.tensor([[5, 6, 7]])) if isinstance(streamer, _Streamer) else None
    for i in ids:
        streamer.put(torch.tensor([i]))
    streamer.end()


def random_text(rng, stops):
    words = ['red', ' circle', ' on', ' the', ' left', '.', '\n', '\n\n', ' é', '—', ' 猫',
             ' ###', ' Instruction', ':', '#', '<', '|', 'endofchunk', '>', ' 🙂']
    parts = [rng.choice(words) for _ in range(rng.randint(1, 40))]
    if rng.random() < 0.7:
        parts.insert(rng.randint(0, len(parts)), rng.choice(stops))
    return ''.join(parts)


def test_a_stop_string_split_across_tokens_stops_at_its_last_token(tok):
    stops = get_stop_words('mmgpt')
    prompt = tok.encode('### Response:\n', add_special_tokens=False)
    new = tok.encode('It is red.\n\n### Instruction:\nand more', add_special_tokens=False)
    pieces = [tok.decode([i]) for i in new]
    assert not any('### Instruction:' in p for p in pieces)  # really split
    step = first_stop(_StopOnStrings(tok, len(prompt), stops), prompt, new)
    assert tok.decode(new[:step]).endswith('### Instruction:')
    assert step == first_stop(OldStop(tok, len(prompt), stops), prompt, new)


def test_eos_stops_when_it_is_a_stop_string(tok):
    stops = get_stop_words('mmgpt', tok.eos_token)
    new = tok.encode('It is red.', add_special_tokens=False) + [tok.eos_token_id, 40, 41]
    assert first_stop(_StopOnStrings(tok, 2, stops), [1, 2], new) == new.index(
        tok.eos_token_id) + 1


@pytest.mark.parametrize('template', ['mmgpt', 'openflamingo'])
def test_same_stops_and_stream_as_the_full_decode(tok, template):
    rng = random.Random(0)
    stops = get_stop_words(template, tok.eos_token)
    prompt = tok.encode('Q?\n', add_special_tokens=False)
    for _ in range(150):
        new = tok.encode(random_text(rng, stops), add_special_tokens=False)
        assert first_stop(_StopOnStrings(tok, len(prompt), stops), prompt, new) == \
            first_stop(OldStop(tok, len(prompt), stops), prompt, new)
        got, want = [], []
        stream(_Streamer(tok, got.append, stops, skip=1), new)
        stream(OldStreamer(tok, want.append, stops), new)
        assert ''.join(got) == ''.join(want)


def test_beam_rows_are_checked_independently(tok):
    stops = get_stop_words('mmgpt')
    a = tok.encode('Red.\n\n### Instruction:', add_special_tokens=False)
    b = tok.encode('Blue and more words here', add_special_tokens=False)
    n = min(len(a), len(b))
    ids = torch.tensor([[1] + a[-n:], [1] + b[:n]])
    assert _StopOnStrings(tok, 1, stops)(ids, None).tolist() == [True, False]
