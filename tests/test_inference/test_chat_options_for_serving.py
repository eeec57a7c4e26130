"""Chat-engine features the servers rely on: extra stop strings, a turn's context (the
template's ### Input:), token usage and finish reason, the context-length error."""
import pytest
import torch

from mmgpt.inference import ChatEngine, ContextLengthError, GenerationOptions
from mmgpt.testing import build_tiny, tiny_model_cfg
from mmgpt.utils.image import build_image_transform


@pytest.fixture(scope='module')
def engine():
    return ChatEngine(build_tiny(), build_image_transform(tiny_model_cfg()['vision_encoder']))


def _fake(engine, monkeypatch, text, eos=False):
    tok = engine.tokenizer
    ids = tok.encode(text, add_special_tokens=False) + ([tok.eos_token_id] if eos else [])

    def generate(input_ids, images=None, streamer=None, stopping_criteria=(),
                 max_new_tokens=128, **kw):
        out = input_ids
        if streamer is not None:
            streamer.put(input_ids)
        for tid in ids[:max_new_tokens]:
            out = torch.cat([out, torch.tensor([[tid]])], dim=1)
            if streamer is not None:
                streamer.put(torch.tensor([tid]))
            if tid == tok.eos_token_id or any(bool(c(out, None)[0]) for c in stopping_criteria):
                break
        if streamer is not None:
            streamer.end()
        return out[:, input_ids.shape[1]:]

    monkeypatch.setattr(engine.model, 'generate', generate)
    return len(ids)


def test_extra_stop_strings_cut_and_stream_the_answer(engine, monkeypatch):
    _fake(engine, monkeypatch, 'one two END three four')
    pieces = []
    conv = engine.new_conversation()
    answer = engine.ask(conv, 'Count?', GenerationOptions(stop=('END',)), stream=pieces.append)
    assert answer == 'one two' and ''.join(pieces).strip() == 'one two'
    assert conv.last_usage['finish_reason'] == 'stop'
    assert engine.ask(engine.new_conversation(), 'Count?') == 'one two END three four'


def test_usage_and_finish_reason(engine, monkeypatch):
    n = _fake(engine, monkeypatch, 'a b c d e f g h')
    conv = engine.new_conversation()
    engine.ask(conv, 'Letters?', GenerationOptions(max_new_tokens=3))
    assert conv.last_usage['completion_tokens'] == 3
    assert conv.last_usage['finish_reason'] == 'length'
    assert conv.last_usage['prompt_tokens'] == len(engine.tokenizer.encode(
        conv.last_prompt.replace('<BOS>', ''), add_special_tokens=False)) + 1
    engine.ask(conv, 'Letters?', GenerationOptions(max_new_tokens=n + 5))
    assert conv.last_usage == dict(conv.last_usage, completion_tokens=n, finish_reason='stop')
    n = _fake(engine, monkeypatch, 'done', eos=True)
    engine.ask(conv, 'Done?', GenerationOptions(max_new_tokens=n))
    assert conv.last_usage['finish_reason'] == 'stop'  # ended by EOS at the limit


def test_context_becomes_the_input_section(engine, monkeypatch):
    _fake(engine, monkeypatch, 'ok')
    conv = engine.new_conversation()
    engine.ask(conv, 'Summarise.', GenerationOptions(max_new_tokens=4), context='Be brief.')
    assert conv.last_prompt.endswith(
        '### Instruction:\nSummarise.\n\n### Input:\nBe brief.\n\n### Response:\n')
    assert conv.turns[-1]['input'] == 'Be brief.'


@pytest.mark.parametrize('stop', [('',), ('x' * 257,), ('a',) * 9, (1,)])
def test_bad_stop_strings_are_refused(stop):
    with pytest.raises(ValueError, match='stop must be'):
        GenerationOptions(stop=stop)


def test_context_length_error(engine):
    small = ChatEngine(engine.model, engine.image_transform, max_context=30)
    with pytest.raises(ContextLengthError, match='more than the context of 30'):
        small.ask(small.new_conversation(), 'word ' * 50)
