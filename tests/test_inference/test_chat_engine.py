"""The chat engine: options, stop strings, streaming, history trimming, isolation, images."""
import pytest
import torch
from PIL import Image

from mmgpt.inference import ChatEngine, GenerationOptions
from mmgpt.templates import chat_prompt, encode_segments, render
from mmgpt.testing import (
    image_sensitive_tiny,
)

SYSTEM = ('Below is an instruction that describes a task. Write a response that '
          'appropriately completes the request.')


@pytest.fixture(scope='module')
def engine():
    return ChatEngine(image_sensitive_tiny())  # the tower's own preprocessing


def _image(color):
    return Image.new('RGB', (40, 40), color)


def _options(**kw):
    return GenerationOptions(**dict(dict(max_new_tokens=6), **kw))


@pytest.mark.parametrize('bad', [
    dict(max_new_tokens=0), dict(max_new_tokens=2.5), dict(mode='nucleus'),
    dict(temperature=0.0), dict(top_p=1.5), dict(top_p=0.0), dict(top_k=-1),
    dict(num_beams=1), dict(repetition_penalty=0.5), dict(max_new_tokens=True)])
def test_invalid_options_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad)) if 'mode' not in bad else 'mode'):
        GenerationOptions(**bad)


def test_modes_map_to_generation_arguments():
    assert GenerationOptions().generate_kwargs()['do_sample'] is False
    beam = GenerationOptions(mode='beam', num_beams=4).generate_kwargs()
    assert beam['num_beams'] == 4 and beam['do_sample'] is False
    sample = GenerationOptions(mode='sample', temperature=0.7, top_k=5, top_p=0.9)
    assert sample.generate_kwargs() == dict(
        max_new_tokens=128, repetition_penalty=1.0, do_sample=True, num_beams=1,
        temperature=0.7, top_k=5, top_p=0.9)


def test_every_mode_generates(engine):
    for opts in (_options(), _options(mode='beam', num_beams=2),
                 _options(mode='sample', seed=0, top_k=10, top_p=0.9, temperature=0.8)):
        conv = engine.new_conversation()
        conv.add_image(_image('red'))
        assert isinstance(engine.ask(conv, 'What is it?', opts), str)


def _fake_generate(engine, text):
    """Make the model 'generate' ``text`` token by token (drives streamer/criteria)."""
    tok = engine.tokenizer
    ids = tok.encode(text, add_special_tokens=False)

    def generate(input_ids, images=None, streamer=None, stopping_criteria=(), **kw):
        out = input_ids
        if streamer is not None:
            streamer.put(input_ids)
        for tid in ids:
            out = torch.cat([out, torch.tensor([[tid]])], dim=1)
            if streamer is not None:
                streamer.put(torch.tensor([tid]))
            if any(bool(c(out, None)[0]) for c in stopping_criteria):
                break
        if streamer is not None:
            streamer.end()
        return out[:, input_ids.shape[1]:]

    return generate


def test_stops_at_the_next_instruction_header_and_streams_only_the_answer(engine, monkeypatch):
    monkeypatch.setattr(engine.model, 'generate', _fake_generate(
        engine, 'It is red.\n\n### Instruction:\nand more text that must not appear'))
    pieces = []
    conv = engine.new_conversation()
    answer = engine.ask(conv, 'Colour?', _options(max_new_tokens=64), stream=pieces.append)
    assert answer == 'It is red.'
    assert ''.join(pieces).strip() == 'It is red.'
    assert 'Instruction' not in ''.join(pieces)
    assert conv.turns[-1]['response'] == 'It is red.'


def test_prompt_is_the_training_template(engine):
    conv = engine.new_conversation()
    conv.add_image(_image('blue'))
    text = engine.prompt_text(conv, 'What colour is it?\nOne word.')
    assert text == (f'<BOS>{SYSTEM}\n\n### Image:\n<image>\n\n### Instruction:\n'
                    'What colour is it?\nOne word.\n\n### Response:\n')
    # and the token ids equal the training rendering minus the response and its EOS
    training = dict(image='x.png', turns=[dict(instruction='What colour is it?\nOne word.',
                                              input='', response='Blue.')])
    train_ids, _ = encode_segments(render(training), engine.tokenizer)
    prompt_ids, _ = encode_segments(chat_prompt(training), engine.tokenizer)
    answer_len = len(engine.tokenizer.encode('Blue.', add_special_tokens=False)) + 1
    assert prompt_ids == train_ids[:-answer_len]


def test_history_is_trimmed_oldest_turn_first(engine):
    tok = engine.tokenizer
    one_turn = len(encode_segments(chat_prompt(dict(image='x', turns=[dict(
        instruction='Question number 0?', input='', response=None)])), tok)[0])
    small = ChatEngine(engine.model, engine.image_transform, max_context=one_turn + 40)
    conv = small.new_conversation()
    conv.add_image(_image('green'))
    for i in range(6):
        small.ask(conv, f'Question number {i}?', _options(max_new_tokens=4))
    prompt = small.prompt_text(conv, 'Last?')
    assert 'Question number 5?' in prompt and 'Question number 0?' not in prompt
    assert 1 <= len(conv.turns) < 6
    # the prompt recorded for the last answer is the trimmed one the model saw
    assert conv.last_prompt.endswith('Question number 5?\n\n### Response:\n')
    assert 'Question number 0?' not in conv.last_prompt
    assert conv.turns[-1]['instruction'] == 'Question number 5?'
    # the image came with the first turn, so it went with it
    assert conv.images == [] and '<image>' not in prompt
    # the prompt of the last answer fitted prompt + new tokens into the context
    ids = encode_segments(chat_prompt(dict(image=None, turns=conv.turns)), tok)[0]
    assert len(ids) + 4 <= small.max_context


def test_a_question_too_long_for_the_context_is_an_error(engine):
    small = ChatEngine(engine.model, engine.image_transform, max_context=30)
    with pytest.raises(ValueError, match='more than the context of 30'):
        small.ask(small.new_conversation(), 'word ' * 50, _options())


def test_interleaved_conversations_are_isolated(engine):
    def run(steps):
        convs = {'a': engine.new_conversation(), 'b': engine.new_conversation()}
        convs['a'].add_image(_image('red'))
        convs['b'].add_image(_image('blue'))
        return [(name, engine.ask(convs[name], q, _options())) for name, q in steps]

    alone_a = run([('a', 'What is this?'), ('a', 'And now?')])
    alone_b = run([('b', 'What is this?'), ('b', 'And now?')])
    mixed = run([('a', 'What is this?'), ('b', 'What is this?'), ('a', 'And now?'),
                 ('b', 'And now?')])
    assert [x for x in mixed if x[0] == 'a'] == alone_a
    assert [x for x in mixed if x[0] == 'b'] == alone_b
    assert alone_a != alone_b  # the image matters, so isolation is really tested


def test_each_image_binds_to_its_turn(engine, monkeypatch):
    seen = []
    real = engine.model.generate

    def spy(input_ids, images=None, **kw):
        seen.append((input_ids.clone(), None if images is None else images.clone()))
        return real(input_ids, images=images, **kw)

    monkeypatch.setattr(engine.model, 'generate', spy)
    conv = engine.new_conversation()
    conv.add_image(_image('red'))
    engine.ask(conv, 'First picture?', _options())
    engine.ask(conv, 'Still the first?', _options())
    conv.add_image(_image('blue'))
    engine.ask(conv, 'Second picture?', _options())
    assert [None if im is None else im.shape[1] for _, im in seen] == [1, 1, 2]
    red, blue = (engine.image_transform(_image(c)) for c in ('red', 'blue'))
    torch.testing.assert_close(seen[2][1][0, 0, 0], red)
    torch.testing.assert_close(seen[2][1][0, 1, 0], blue)
    prompt = engine.prompt_text(conv, 'next')
    assert prompt.count('### Image:\n<image>') == 2
    first, second = prompt.index('<image>'), prompt.rindex('<image>')
    assert first < prompt.index('First picture?') < prompt.index('Still the first?') < second
    assert second < prompt.index('Second picture?')
    ids = seen[2][0][0]
    assert int((ids == engine.model.media_token_id).sum()) == 2


def test_reset_forgets_turns_and_images(engine):
    conv = engine.new_conversation()
    conv.add_image(_image('red'))
    engine.ask(conv, 'What is it?', _options())
    assert 'What is it?' in conv.last_prompt
    conv.reset()
    assert conv.turns == [] and conv.images == [] and conv.pending_image is None
    assert conv.last_prompt is None
    assert '<image>' not in engine.prompt_text(conv, 'Hello?')
