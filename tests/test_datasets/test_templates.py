"""The unified template: exact text, supervision, special tokens, chat prompt."""
import dataclasses

import pytest

from mmgpt.templates import (
    BOS,
    EOS,
    IGNORE_INDEX,
    MEDIA,
    TEMPLATES,
    chat_prompt,
    encode_segments,
    get_stop_words,
    render,
    segments_to_text,
)
from mmgpt.tokenizer import build_tokenizer

SYSTEM = ('Below is an instruction that describes a task. Write a response that '
          'appropriately completes the request.')


def turn(instruction, response, input=''):  # noqa: A002
    return dict(instruction=instruction, input=input, response=response)


LANG = dict(image=None, turns=[turn('Name a colour.', 'Red.')])
LANG_INPUT = dict(image=None, turns=[turn('Sum the numbers.', '5', input='2 and 3')])
VL_ONE = dict(image='cat.jpg', turns=[turn('What is this?', 'A cat.')])
VL_MULTI = dict(image='cat.jpg', turns=[
    turn('What is this?', 'A cat\non a mat.'),
    turn('What colour\nis it?', 'Black.\n\nMostly.')])


@pytest.fixture(scope='module')
def tokenizer():
    return build_tokenizer(dict(type='tiny_bpe'))


def text(conv, **kwargs):
    return segments_to_text(render(conv, **kwargs))


def test_language_only_without_input():
    assert text(LANG) == (
        '<BOS>Below is an instruction that describes a task. Write a response that '
        'appropriately completes the request.\n'
        '\n'
        '### Instruction:\n'
        'Name a colour.\n'
        '\n'
        '### Response:\n'
        'Red.<EOS>')


def test_language_only_with_input():
    assert text(LANG_INPUT) == (
        '<BOS>Below is an instruction that describes a task. Write a response that '
        'appropriately completes the request.\n'
        '\n'
        '### Instruction:\n'
        'Sum the numbers.\n'
        '\n'
        '### Input:\n'
        '2 and 3\n'
        '\n'
        '### Response:\n'
        '5<EOS>')


def test_vision_language_single_turn():
    assert text(VL_ONE) == (
        '<BOS>Below is an instruction that describes a task. Write a response that '
        'appropriately completes the request.\n'
        '\n'
        '### Image:\n'
        '<image>\n'
        '\n'
        '### Instruction:\n'
        'What is this?\n'
        '\n'
        '### Response:\n'
        'A cat.<EOS>')


def test_vision_language_multi_turn_keeps_newlines():
    assert text(VL_MULTI) == (
        '<BOS>Below is an instruction that describes a task. Write a response that '
        'appropriately completes the request.\n'
        '\n'
        '### Image:\n'
        '<image>\n'
        '\n'
        '### Instruction:\n'
        'What is this?\n'
        '\n'
        '### Response:\n'
        'A cat\non a mat.<EOS>\n'
        '\n'
        '### Instruction:\n'
        'What colour\nis it?\n'
        '\n'
        '### Response:\n'
        'Black.\n\nMostly.<EOS>')


def test_openflamingo_plain_form():
    caption = dict(image='cat.jpg', turns=[turn('Describe.', 'A cat on a mat.')])
    assert text(caption, template='openflamingo') == (
        '<BOS><image>A cat on a mat.<|endofchunk|><EOS>')
    assert segments_to_text(chat_prompt(caption, 'openflamingo')) == '<BOS><image>'


def test_template_is_data():
    tpl = TEMPLATES['mmgpt']
    assert tpl.system == SYSTEM
    assert (tpl.image_header, tpl.instruction_header, tpl.input_header,
            tpl.response_header) == ('### Image:', '### Instruction:', '### Input:',
                                     '### Response:')
    with pytest.raises(dataclasses.FrozenInstanceError):
        tpl.system = 'changed'
    with pytest.raises(KeyError, match='unknown template'):
        render(LANG, template='vicuna')


@pytest.mark.parametrize('conv', [LANG, LANG_INPUT, VL_ONE, VL_MULTI])
def test_supervised_spans_are_responses_and_eos(conv):
    segs = render(conv)
    sup = [s for s in segs if s.supervised]
    expected = []
    for t in conv['turns']:
        expected += [(t['response'], None), ('', EOS)]
    assert [(s.text, s.special) for s in sup] == expected
    assert [s.special for s in segs].count(BOS) == 1
    assert segs[0].special == BOS
    assert [s.special for s in segs].count(MEDIA) == (conv['image'] is not None)


@pytest.mark.parametrize('conv', [LANG, LANG_INPUT, VL_ONE, VL_MULTI])
def test_token_ids_and_labels(tokenizer, conv):
    ids, labels = encode_segments(render(conv), tokenizer)
    assert len(ids) == len(labels)
    assert ids[0] == tokenizer.bos_token_id and ids.count(tokenizer.bos_token_id) == 1
    assert ids.count(tokenizer.eos_token_id) == len(conv['turns'])
    media = tokenizer.convert_tokens_to_ids('<image>')
    assert ids.count(media) == (conv['image'] is not None)
    # The supervised tokens decode to the responses, each followed by EOS.
    sup = [i for i, label in zip(ids, labels) if label != IGNORE_INDEX]
    expected = ''.join(t['response'] + tokenizer.eos_token for t in conv['turns'])
    assert tokenizer.decode(sup) == expected
    assert all(label in (IGNORE_INDEX, i) for i, label in zip(ids, labels))
    # Every EOS is supervised; BOS and the media token never are.
    for i, label in zip(ids, labels):
        if i == tokenizer.eos_token_id:
            assert label == i
        if i in (tokenizer.bos_token_id, media):
            assert label == IGNORE_INDEX


@pytest.mark.parametrize('conv', [LANG, LANG_INPUT, VL_ONE, VL_MULTI])
@pytest.mark.parametrize('template', ['mmgpt', 'openflamingo'])
def test_chat_prompt_equals_training_ids_minus_last_response(tokenizer, conv, template):
    train_ids, _ = encode_segments(render(conv, template), tokenizer)
    open_conv = dict(conv, turns=conv['turns'][:-1] + [dict(conv['turns'][-1], response=None)])
    prompt_ids, prompt_labels = encode_segments(chat_prompt(open_conv, template), tokenizer)
    last = tokenizer.encode(conv['turns'][-1]['response'], add_special_tokens=False)
    tail = last + ([tokenizer.convert_tokens_to_ids('<|endofchunk|>')]
                   if template == 'openflamingo' else []) + [tokenizer.eos_token_id]
    assert train_ids == prompt_ids + tail
    if template == 'mmgpt':
        assert segments_to_text(chat_prompt(open_conv)).endswith('### Response:\n')


def test_special_strings_in_user_text_stay_text(tokenizer):
    conv = dict(image='a.jpg', turns=[turn('Is <image> here </s>?', 'No <image>, no </s>.')])
    ids, labels = encode_segments(render(conv), tokenizer)
    assert ids.count(tokenizer.convert_tokens_to_ids('<image>')) == 1
    assert ids.count(tokenizer.eos_token_id) == 1
    assert ids.count(tokenizer.bos_token_id) == 1
    sup = [i for i, label in zip(ids, labels) if label != IGNORE_INDEX]
    assert tokenizer.decode(sup) == 'No <image>, no </s>.</s>'


def test_stop_words():
    assert get_stop_words('mmgpt', '</s>') == ['### Instruction:', '</s>']
    assert get_stop_words('mmgpt') == ['### Instruction:']
    assert get_stop_words('openflamingo', '</s>') == ['<|endofchunk|>', '</s>']


def test_empty_conversation_is_an_error():
    with pytest.raises(ValueError, match='no turns'):
        render(dict(image=None, turns=[], id='r7'))


def test_interleaved_plain_form_puts_each_question_before_its_answer():
    from mmgpt.templates import render, segments_to_text
    conv = dict(image='x.png', turns=[dict(instruction='What color?', input='', response='Red.'),
                                      dict(instruction='Shape?', input='', response='A circle.')])
    segs = render(conv, 'openflamingo_interleaved')
    assert segments_to_text(segs) == ('<BOS><image>What color?\nRed.<|endofchunk|>Shape?\n'
                                      'A circle.<|endofchunk|><EOS>')
    assert [s.text for s in segs if s.supervised and s.text] == ['Red.', 'A circle.']
    # the plain OpenFlamingo form itself is unchanged: captions only
    assert segments_to_text(render(conv, 'openflamingo')) == \
        '<BOS><image>Red.<|endofchunk|>A circle.<|endofchunk|><EOS>'


def test_an_image_given_with_a_later_turn_gets_its_own_section():
    from mmgpt.templates import render, segments_to_text
    conv = dict(image='a.png', turns=[dict(instruction='First?', input='', response='One.'),
                                      dict(instruction='Second?', input='', response='Two.',
                                           image='b.png')])
    text = segments_to_text(render(conv))
    assert text.endswith('### Instruction:\nFirst?\n\n### Response:\nOne.<EOS>\n\n### Image:\n'
                         '<image>\n\n### Instruction:\nSecond?\n\n### Response:\nTwo.<EOS>')
    assert text.count('<image>') == 2
