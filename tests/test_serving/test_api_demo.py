"""tools/serve.py on the trained demo, called with the official openai client: answers
about held-out images checked against the demo's references, 8 concurrent clients."""
import base64
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from serving_fixtures import DEMO_CONFIG, REPO, demo_cfg_options, free_port, wait_for_http

from mmgpt.demo.eval_tasks import score_answer

MODEL = 'mmgpt-demo'


@pytest.fixture(scope='module')
def demo_server(trained_demo):
    port = free_port()
    data = os.path.join(trained_demo, 'data')
    proc = subprocess.Popen(
        [sys.executable, os.path.join(REPO, 'tools', 'serve.py'), DEMO_CONFIG,
         os.path.join(trained_demo, 'stage2', 'mmgpt_lora.safetensors'), '--port', str(port),
         '--model-name', MODEL, '--image-dir', os.path.join(data, 'images'),
         *demo_cfg_options(trained_demo)],
        cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS='1'), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f'http://127.0.0.1:{port}/v1/models', proc)
        yield f'http://127.0.0.1:{port}', data
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _items(data, task, n):
    with open(os.path.join(data, 'eval_items.json')) as f:
        items = [i for i in json.load(f) if i['task'] == task]
    seen, out = set(), []
    for item in items:  # one item per image
        if item['image'] not in seen:
            seen.add(item['image'])
            out.append(item)
    return out[:n]


def _messages(data, item, as_path=False):
    path = os.path.join(data, item['image'])
    if as_path:  # a local file under --image-dir
        url = os.path.relpath(path, os.path.join(data, 'images'))
    else:
        with open(path, 'rb') as f:
            url = 'data:image/png;base64,' + base64.b64encode(f.read()).decode()
    history = []
    for question, answer in zip(item['turns'][:-1], item['history_answers']):
        history += [{'role': 'user', 'content': question},
                    {'role': 'assistant', 'content': answer}]
    first = {'role': 'user', 'content': [{'type': 'image_url', 'image_url': {'url': url}},
                                         {'type': 'text', 'text': item['turns'][0]}]}
    if history:
        return [first, *history[1:], {'role': 'user', 'content': item['turns'][-1]}]
    return [first]


# ~1 minute (starts a server on the trained demo, or trains the demo once if absent)
def test_answers_about_held_out_images_match_the_references(demo_server):
    url, data = demo_server
    client = openai.OpenAI(base_url=f'{url}/v1', api_key='unused', max_retries=0, timeout=300)
    assert [m.id for m in client.models.list().data] == [MODEL]
    for task in ('count', 'color', 'shape', 'dialog'):
        item = _items(data, task, 1)[0]
        reply = client.chat.completions.create(model=MODEL, messages=_messages(data, item),
                                               max_tokens=24)
        text = reply.choices[0].message.content
        assert score_answer(item, text), (item, text)
        assert reply.choices[0].finish_reason == 'stop'
        stream = client.chat.completions.create(model=MODEL, max_tokens=24, stream=True,
                                                messages=_messages(data, item, as_path=True))
        assert ''.join(c.choices[0].delta.content or '' for c in stream).strip() == text


# ~1 minute (shares the server above)
def test_eight_concurrent_clients_with_different_images(demo_server):
    url, data = demo_server
    items = _items(data, 'count', 4) + _items(data, 'color', 4)
    assert len({i['image'] for i in items}) >= 6

    def ask(item):
        client = openai.OpenAI(base_url=f'{url}/v1', api_key='unused', max_retries=0,
                               timeout=300)
        reply = client.chat.completions.create(model=MODEL, messages=_messages(data, item),
                                               max_tokens=24)
        return reply.choices[0].message.content

    alone = [ask(item) for item in items]
    assert sum(score_answer(i, a) for i, a in zip(items, alone)) >= 7, alone
    assert len(set(alone)) >= 3
    for _ in range(2):
        with ThreadPoolExecutor(8) as pool:
            together = list(pool.map(ask, items))
        assert together == alone  # each client got the answer about its own image
    # a burst of bad requests, then the server still answers
    bad = [b'{', b'[]', json.dumps({'model': 'x', 'messages': []}).encode(),
           json.dumps({'model': MODEL, 'messages': [{'role': 'user', 'content': [
               {'type': 'image_url', 'image_url': {'url': 'http://example.com/a.png'}},
               {'type': 'text', 'text': 'Hi'}]}]}).encode()] * 10
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda b: httpx.post(f'{url}/v1/chat/completions', content=b,
                                                   timeout=60).status_code, bad))
    assert all(400 <= c < 500 for c in codes)
    assert ask(items[0]) == alone[0]
