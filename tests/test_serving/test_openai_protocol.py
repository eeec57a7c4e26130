"""OpenAI chat requests -> conversation turns and generation options (no server)."""
import pytest

from mmgpt.serving import APIError, ServingSettings, parse_chat_request

SETTINGS = ServingSettings(model_name='m')


def _req(messages, **fields):
    return parse_chat_request(dict(model='m', messages=messages, **fields), SETTINGS)


def _image(url='data:image/png;base64,AAAA'):
    return {'type': 'image_url', 'image_url': {'url': url}}


def test_a_dialogue_maps_onto_turns_with_images_bound_to_their_turn():
    req = _req([
        {'role': 'system', 'content': 'Answer briefly.'},
        {'role': 'user', 'content': [_image('data:image/png;base64,AAA1'),
                                     {'type': 'text', 'text': 'What shape?'}]},
        {'role': 'assistant', 'content': 'Squares.'},
        {'role': 'user', 'content': 'How many?'},
        {'role': 'assistant', 'content': [{'type': 'text', 'text': 'Three.'}]},
        {'role': 'user', 'content': [{'type': 'text', 'text': 'And here?'},
                                     _image('data:image/png;base64,AAA2')]},
        {'role': 'user', 'content': 'Count them.'},
    ])
    assert [(t['instruction'], t['input'], t['response']) for t in req.history] == [
        ('What shape?', 'Answer briefly.', 'Squares.'), ('How many?', '', 'Three.')]
    assert req.history[0]['image'].url.endswith('AAA1') and req.history[1]['image'] is None
    assert req.question == 'And here?\nCount them.'  # consecutive user messages: one turn
    assert req.image.url.endswith('AAA2') and req.image.param == 'messages[5].content[1].image_url'
    assert req.context == '' and not req.stream


def test_system_message_policies():
    messages = [{'role': 'developer', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi'}]
    assert _req(messages).context == 'Be brief.'
    ignore = parse_chat_request(dict(model='m', messages=messages),
                                ServingSettings(model_name='m', system_messages='ignore'))
    assert ignore.context == ''
    with pytest.raises(APIError, match='not accepted') as err:
        parse_chat_request(dict(model='m', messages=messages),
                           ServingSettings(model_name='m', system_messages='reject'))
    assert err.value.status == 400 and err.value.param == 'messages[0].role'


@pytest.mark.parametrize('fields,expected', [
    ({}, dict(mode='greedy', max_new_tokens=128)),
    ({'temperature': 0, 'max_tokens': 9}, dict(mode='greedy', max_new_tokens=9)),
    ({'temperature': 0.7, 'top_p': 0.9, 'seed': 3, 'max_completion_tokens': 5},
     dict(mode='sample', temperature=0.7, top_p=0.9, seed=3, max_new_tokens=5)),
    ({'top_p': 0.5}, dict(mode='sample', temperature=1.0, top_p=0.5)),
    ({'top_k': 4, 'repetition_penalty': 1.2}, dict(mode='sample', top_k=4,
                                                   repetition_penalty=1.2)),
    ({'num_beams': 4}, dict(mode='beam', num_beams=4)),
    ({'stop': 'END'}, dict(stop=('END',))),
    ({'stop': ['a', 'b'], 'n': 1, 'presence_penalty': 0, 'user': 'u'}, dict(stop=('a', 'b'))),
])
def test_sampling_fields_map_to_generation_options(fields, expected):
    options = _req([{'role': 'user', 'content': 'Hi'}], **fields).options
    for name, value in expected.items():
        assert getattr(options, name) == value, name


def test_stream_options():
    req = _req([{'role': 'user', 'content': 'Hi'}], stream=True,
               stream_options={'include_usage': True})
    assert req.stream and req.include_usage
