"""The OpenAI-compatible API on a tiny model: the official client, streaming, concurrency
without cross-talk, authentication, and a table of bad requests (status + error each)."""
import io
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
import torch
from PIL import Image
from serving_fixtures import (
    COLOURS,
    REPO,
    ServerThread,
    data_url,
    free_port,
    png_bytes,
    wait_for_http,
)

from mmgpt.inference import GenerationOptions
from mmgpt.serving import ImageLimits, ServingSettings
from mmgpt.serving.api_server import create_app
from mmgpt.testing import TINY_MODEL_CONFIG, build_tiny

MODEL = 'tiny'
LIMITS = ImageLimits(max_bytes=64 * 1024, max_pixels=256 * 256, max_images=2)
QUESTION = 'What is in the picture?'


@pytest.fixture(scope='module')
def image_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('api')
    (root / 'allowed').mkdir()
    (root / 'allowed' / 'red.png').write_bytes(png_bytes('red'))
    (root / 'secret.png').write_bytes(png_bytes('blue'))
    return root


@pytest.fixture(scope='module')
def api(tiny_engine, image_dir):
    settings = ServingSettings(model_name=MODEL, image_limits=LIMITS, max_body_bytes=512 * 1024,
                               image_dir=str(image_dir / 'allowed'), default_max_tokens=8)
    with ServerThread(create_app(tiny_engine, settings)) as server:
        yield server


@pytest.fixture(scope='module')
def client(api):
    return openai.OpenAI(base_url=f'{api.url}/v1', api_key='unused', max_retries=0,
                         timeout=120)


def _user(text, colour=None):
    parts = [{'type': 'text', 'text': text}]
    if colour:
        parts.insert(0, {'type': 'image_url', 'image_url': {'url': data_url(png_bytes(colour))}})
    return {'role': 'user', 'content': parts}


def _direct(engine, colour, question=QUESTION, max_new_tokens=8, context=''):
    """What the engine answers without the server (greedy)."""
    conv = engine.new_conversation()
    if colour:
        conv.add_image(Image.new('RGB', (40, 40), colour))
    return engine.ask(conv, question, GenerationOptions(max_new_tokens=max_new_tokens),
                      context=context)


def test_models(client):
    assert [m.id for m in client.models.list().data] == [MODEL]
    assert client.models.retrieve(MODEL).owned_by == 'mmgpt'


def test_non_streaming_answer_about_an_image(client, tiny_engine):
    reply = client.chat.completions.create(model=MODEL, messages=[_user(QUESTION, 'red')])
    choice = reply.choices[0]
    assert choice.message.role == 'assistant'
    assert choice.message.content == _direct(tiny_engine, 'red')
    assert reply.object == 'chat.completion' and reply.id.startswith('chatcmpl-')
    assert choice.finish_reason in ('stop', 'length')
    assert reply.usage.completion_tokens >= 1 and reply.usage.prompt_tokens > 10
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_streaming_answer_equals_the_whole_answer(client):
    whole = client.chat.completions.create(model=MODEL, messages=[_user(QUESTION, 'blue')],
                                           max_tokens=12).choices[0]
    chunks = list(client.chat.completions.create(
        model=MODEL, messages=[_user(QUESTION, 'blue')], max_tokens=12, stream=True,
        stream_options={'include_usage': True}))
    assert chunks[0].choices[0].delta.role == 'assistant'
    text = ''.join(c.choices[0].delta.content or '' for c in chunks if c.choices)
    assert text.strip() == whole.message.content
    finals = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finals[-1] == whole.finish_reason and all(f is None for f in finals[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens >= 1
    assert len({c.id for c in chunks}) == 1


def test_raw_event_stream_ends_with_done(api):
    body = dict(model=MODEL, messages=[_user('Hi?')], stream=True, max_tokens=4)
    with httpx.stream('POST', f'{api.url}/v1/chat/completions', json=body, timeout=60) as r:
        assert r.status_code == 200
        assert r.headers['content-type'].startswith('text/event-stream')
        lines = [line for line in r.iter_lines() if line]
    assert all(line.startswith('data: ') for line in lines)
    assert lines[-1] == 'data: [DONE]'
    for line in lines[:-1]:
        assert json.loads(line[6:])['object'] == 'chat.completion.chunk'


def test_history_system_message_stop_and_length(client, tiny_engine):
    messages = [{'role': 'system', 'content': 'Be brief.'}, _user(QUESTION, 'green')]
    got = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=8)
    assert got.choices[0].message.content == _direct(tiny_engine, 'green',
                                                     context='Be brief.')
    assert got.choices[0].message.content != _direct(tiny_engine, 'green')
    # max_tokens=1: one token and finish_reason 'length' (unless that token ended it)
    one = client.chat.completions.create(model=MODEL, messages=[_user(QUESTION, 'red')],
                                         max_tokens=1)
    assert one.usage.completion_tokens == 1 and one.choices[0].finish_reason == 'length'
    # a stop string cuts the answer where it starts
    full = client.chat.completions.create(model=MODEL, messages=[_user(QUESTION, 'red')],
                                          max_tokens=12).choices[0].message.content
    word = full.split()[-1]
    cut = client.chat.completions.create(model=MODEL, messages=[_user(QUESTION, 'red')],
                                         max_tokens=12, stop=[word]).choices[0]
    assert cut.message.content == full[:full.find(word)].strip()
    assert cut.finish_reason == 'stop'


def test_local_image_under_the_allowed_directory(client, tiny_engine):
    part = {'type': 'image_url', 'image_url': {'url': 'red.png'}}
    got = client.chat.completions.create(model=MODEL, messages=[{'role': 'user', 'content': [
        part, {'type': 'text', 'text': QUESTION}]}])
    assert got.choices[0].message.content == _direct(tiny_engine, 'red')


def test_eight_concurrent_clients_get_their_own_answers(client, tiny_engine):
    expected = {c: _direct(tiny_engine, c) for c in COLOURS}
    assert len(set(expected.values())) >= 3, 'the images must matter for this test'

    def ask(i):
        colour = COLOURS[i % len(COLOURS)]
        if i % 2:  # half stream, half do not
            stream = client.chat.completions.create(
                model=MODEL, messages=[_user(QUESTION, colour)], stream=True)
            return colour, ''.join(c.choices[0].delta.content or '' for c in stream
                                   if c.choices).strip()
        reply = client.chat.completions.create(model=MODEL, messages=[_user(QUESTION, colour)])
        return colour, reply.choices[0].message.content

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(ask, range(16)))
    for colour, answer in results:
        assert answer == expected[colour], colour


def _tiff():
    buf = io.BytesIO()
    Image.new('RGB', (8, 8)).save(buf, format='TIFF')
    return buf.getvalue()


def _big_png():
    return png_bytes('red', (300, 300))  # 90,000 pixels > the 65,536 allowed here


def _body(**over):
    body = dict(model=MODEL, messages=[_user('Hi?')])
    body.update(over)
    return body


def _img(url):
    return {'role': 'user', 'content': [{'type': 'image_url', 'image_url': {'url': url}},
                                        {'type': 'text', 'text': 'What is it?'}]}


# (what is wrong, request body (dict) or raw bytes, HTTP status, error code);
# docs/serving.md lists the same table.
BAD_REQUESTS = [
    ('body is not JSON', b'{"model": "tiny", "messages": [', 400, 'invalid_json'),
    ('body is not UTF-8', b'\xff\xfe{}', 400, 'invalid_json'),
    ('body is a JSON array', b'[1, 2]', 400, 'invalid_type'),
    ('no model', dict(messages=[_user('Hi?')]), 400, 'missing_required_parameter'),
    ('unknown model', _body(model='gpt-4o'), 404, 'model_not_found'),
    ('no messages', _body(messages=[]), 400, 'missing_required_parameter'),
    ('messages is not an array', _body(messages='Hi'), 400, 'invalid_type'),
    ('a message is not an object', _body(messages=['Hi']), 400, 'invalid_type'),
    ('unknown field', _body(foo=1), 400, 'unknown_parameter'),
    ('temperature of the wrong type', _body(temperature='hot'), 400, 'invalid_type'),
    ('max_tokens not an integer', _body(max_tokens=1.5), 400, 'invalid_type'),
    ('stream not a boolean', _body(stream='yes'), 400, 'invalid_type'),
    ('max_tokens out of range', _body(max_tokens=0), 400, 'invalid_value'),
    ('top_p out of range', _body(top_p=1.5), 400, 'invalid_value'),
    ('temperature out of range', _body(temperature=9), 400, 'invalid_value'),
    ('too many stop strings', _body(stop=['a'] * 9), 400, 'invalid_value'),
    ('n > 1', _body(n=2), 400, 'unsupported_value'),
    ('logprobs asked', _body(logprobs=True), 400, 'unsupported_value'),
    ('tools given', _body(tools=[{'type': 'function'}]), 400, 'unsupported_value'),
    ('stream_options without stream', _body(stream_options={'include_usage': True}), 400,
     'invalid_value'),
    ('unknown role', _body(messages=[{'role': 'tool', 'content': 'x'}]), 400,
     'unsupported_role'),
    ('last message from the assistant', _body(messages=[_user('Hi?'), {
        'role': 'assistant', 'content': 'Hello.'}]), 400, 'invalid_order'),
    ('assistant message first', _body(messages=[{'role': 'assistant', 'content': 'Hi'},
                                                _user('Hi?')]), 400, 'invalid_order'),
    ('content of the wrong type', _body(messages=[{'role': 'user', 'content': 5}]), 400,
     'invalid_type'),
    ('unsupported content part', _body(messages=[{'role': 'user', 'content': [
        {'type': 'input_audio', 'input_audio': {}}]}]), 400, 'unsupported_content'),
    ('no question text', _body(messages=[{'role': 'user', 'content': ''}]), 400,
     'empty_question'),
    ('remote image URL', _body(messages=[_img('https://example.com/cat.png')]), 400,
     'remote_url_not_allowed'),
    ('image path outside the allowed directory', _body(messages=[_img('../secret.png')]),
     400, 'image_path_not_allowed'),
    ('image file missing', _body(messages=[_img('nope.png')]), 400, 'image_not_found'),
    ('unsupported URL scheme', _body(messages=[_img('ftp2://host/x.png')]), 400,
     'invalid_image_url'),
    ('data URL not base64', _body(messages=[_img('data:image/png,abc')]), 400,
     'invalid_image_url'),
    ('data URL with bad base64', _body(messages=[_img('data:image/png;base64,@@')]), 400,
     'invalid_image_url'),
    ('undecodable image', _body(messages=[_img(data_url(b'\x89PNG\r\n\x1a\nnot really'))]),
     400, 'invalid_image'),
    ('not an image at all', _body(messages=[_img(data_url(b'<svg/>', 'image/svg+xml'))]),
     400, 'invalid_image'),
    ('image format not allowed', _body(messages=[_img(data_url(_tiff(), 'image/tiff'))]),
     400, 'unsupported_image'),
    ('image with too many pixels', _body(messages=[_img(data_url(_big_png()))]), 413,
     'image_too_large'),
    ('image file too large', _body(messages=[_img(data_url(os.urandom(70 * 1024)))]), 413,
     'image_too_large'),
    ('two images in one message', _body(messages=[{'role': 'user', 'content': [
        _img(data_url(png_bytes('red')))['content'][0]] * 2 + [
        {'type': 'text', 'text': 'Hi?'}]}]), 400, 'too_many_images'),
    ('too many images in the request', _body(messages=[
        _img(data_url(png_bytes('red'))), {'role': 'assistant', 'content': 'A.'},
        _img(data_url(png_bytes('red'))), {'role': 'assistant', 'content': 'B.'},
        _img(data_url(png_bytes('red')))]), 400, 'too_many_images'),
    ('prompt longer than the context', _body(messages=[_user('word ' * 1200)]), 400,
     'context_length_exceeded'),
    ('body too large', _body(messages=[_user('x' * 600 * 1024)]), 413, 'request_too_large'),
]


def _send(url, body):
    if isinstance(body, bytes):
        return httpx.post(url, content=body, headers={'content-type': 'application/json'},
                          timeout=60)
    return httpx.post(url, json=body, timeout=60)


@pytest.mark.parametrize('what,body,status,code', BAD_REQUESTS,
                         ids=[row[0] for row in BAD_REQUESTS])
def test_bad_request_gets_a_json_error(api, what, body, status, code):
    r = _send(f'{api.url}/v1/chat/completions', body)
    assert r.status_code == status, r.text
    error = r.json()['error']
    assert set(error) == {'message', 'type', 'param', 'code'}
    assert error['code'] == code and error['message']
    assert error['type'] == ('not_found_error' if status == 404 and code is None
                             else 'invalid_request_error')
    # the same request streamed fails the same way, before any event is sent
    if isinstance(body, dict) and status != 413 and not {'stream', 'stream_options'} & set(body):
        streamed = _send(f'{api.url}/v1/chat/completions', dict(body, stream=True))
        assert streamed.status_code == status and streamed.json()['error']['code'] == code


def test_unknown_paths_and_methods_get_json_errors(api):
    r = httpx.get(f'{api.url}/v1/nothing')
    assert r.status_code == 404 and r.json()['error']['type'] == 'not_found_error'
    r = httpx.get(f'{api.url}/v1/chat/completions')
    assert r.status_code == 405 and 'message' in r.json()['error']
    r = httpx.get(f'{api.url}/v1/models/other')
    assert r.status_code == 404 and r.json()['error']['code'] == 'model_not_found'


def test_the_server_keeps_serving_after_a_burst_of_bad_requests(api, client, tiny_engine):
    url = f'{api.url}/v1/chat/completions'
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda row: _send(url, row[1]).status_code,
                                 BAD_REQUESTS * 2))
    assert all(400 <= s < 500 for s in statuses), statuses
    reply = client.chat.completions.create(model=MODEL, messages=[_user(QUESTION, 'red')])
    assert reply.choices[0].message.content == _direct(tiny_engine, 'red')


def test_bearer_token(tiny_engine):
    settings = ServingSettings(model_name=MODEL, api_key='s3cret')
    with ServerThread(create_app(tiny_engine, settings)) as server:
        for headers in ({}, {'Authorization': 'Bearer wrong'}, {'Authorization': 's3cret'}):
            r = httpx.get(f'{server.url}/v1/models', headers=headers)
            assert r.status_code == 401 and r.json()['error']['code'] == 'invalid_api_key'
        good = openai.OpenAI(base_url=f'{server.url}/v1', api_key='s3cret', max_retries=0)
        assert good.chat.completions.create(model=MODEL, messages=[_user('Hi?')],
                                            max_tokens=2).choices[0].message.content is not None
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f'{server.url}/v1', api_key='nope',
                          max_retries=0).models.list()


# ~30 s on 2 shared cores: a fresh process imports the stack, builds a model
def test_serve_tool_starts_on_localhost_and_answers(tmp_path):
    model = build_tiny()
    torch.save(model.state_dict(), tmp_path / 'lora.pth')
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS='1', MMGPT_API_KEY='k1')
    proc = subprocess.Popen([sys.executable, os.path.join(REPO, 'tools', 'serve.py'),
                             TINY_MODEL_CONFIG, str(tmp_path / 'lora.pth'), '--port', str(port),
                             '--max-tokens', '3'], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_http(f'http://127.0.0.1:{port}/v1/models', proc)
        client = openai.OpenAI(base_url=f'http://127.0.0.1:{port}/v1', api_key='k1',
                               max_retries=0)
        assert [m.id for m in client.models.list().data] == ['mmgpt_tiny']
        reply = client.chat.completions.create(model='mmgpt_tiny', messages=[_user('Hi?')])
        assert reply.usage.completion_tokens <= 3
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert "serving model 'mmgpt_tiny' on http://127.0.0.1:" in out
    assert '(bearer token required)' in out


def test_a_crash_is_a_json_500_and_the_server_goes_on(api, client, tiny_engine, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError('boom')

    monkeypatch.setattr(tiny_engine, 'ask', broken)
    r = httpx.post(f'{api.url}/v1/chat/completions', json=_body(), timeout=60)
    assert r.status_code == 500 and r.json()['error']['type'] == 'server_error'
    assert 'boom' not in r.text  # no internals leak
    monkeypatch.undo()
    assert client.chat.completions.create(model=MODEL, messages=[_user('Hi?')],
                                          max_tokens=2).choices


def test_a_streaming_client_that_leaves_stops_its_generation(api, tiny_engine, monkeypatch):
    steps = []
    real = tiny_engine.model.generate

    def slow_generate(*args, streamer=None, **kwargs):
        class Slow:
            def put(self, value):
                steps.append(1)
                time.sleep(0.05)
                streamer.put(value)

            def end(self):
                streamer.end()
        return real(*args, streamer=Slow(), **kwargs)

    monkeypatch.setattr(tiny_engine.model, 'generate', slow_generate)
    monkeypatch.setattr(tiny_engine, 'stop_words', ['never appears'])  # no early stop
    body = _body(stream=True, max_tokens=400)  # the tiny model runs all 400 (no EOS) if left
    with httpx.stream('POST', f'{api.url}/v1/chat/completions', json=body, timeout=60) as r:
        for line in r.iter_lines():
            if '"content": "' in line and '"content": ""' not in line:
                break  # the first piece of text: leave
    time.sleep(1.5)
    generated = len(steps)
    time.sleep(1.0)
    assert len(steps) == generated < 300  # stopped, long before 400 tokens
