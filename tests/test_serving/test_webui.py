"""The web demo: per-session state, upload checks, streaming and text-only output, first
without a browser, then driven by headless Chromium (fake answers on a tiny model; the
trained demo answering about a held-out image, with a screenshot)."""
import json
import os
import shutil
import time

import pytest
import torch
from serving_fixtures import demo_engine, free_port, png_bytes

from mmgpt.demo.eval_tasks import normalize_words, score_answer
from mmgpt.inference import ChatEngine, GenerationOptions
from mmgpt.serving import ImageLimits
from mmgpt.serving.webui import GENERATING, WebChat, answer_done, build_webui, launch_webui
from mmgpt.testing import build_tiny, tiny_model_cfg
from mmgpt.utils.image import build_image_transform

OPTS = GenerationOptions(max_new_tokens=8)


def _answer(chat, session, question, options=OPTS):
    steps = list(chat.ask(session, question, options))
    return steps, steps[-1][0].messages[-1]['content']


# ------------------------------------------------------------------ without a browser
def test_sessions_are_separate_and_output_is_escaped(tiny_engine, tmp_path):
    chat = WebChat(tiny_engine)
    red, blue = tmp_path / 'red.png', tmp_path / 'blue.png'
    red.write_bytes(png_bytes('red'))
    blue.write_bytes(png_bytes('blue'))
    a, status = chat.add_image(None, str(red))
    assert status.startswith('image added') and a.num_images == 1
    b, _ = chat.add_image(None, str(blue))
    steps_a, answer_a = _answer(chat, a, 'What is <b>this</b>?')
    steps_b, answer_b = _answer(chat, b, 'What is <b>this</b>?')
    assert steps_a[0][1] == GENERATING and steps_a[-1][1] == answer_done(1)
    assert a.messages[1] == {'role': 'user', 'content': 'What is &lt;b&gt;this&lt;/b&gt;?'}
    assert len(a.conversation.turns) == len(b.conversation.turns) == 1
    assert a.conversation.turns[0]['response'] != b.conversation.turns[0]['response']
    assert 'What is <b>this</b>?' in chat.prompt_preview(a)
    assert chat.prompt_preview(chat.clear()).count('<image>') == 0


def test_answers_stream_and_markup_stays_text():
    engine = _fake_engine('<b>bold</b> & <script>alert(1)</script>')
    chat = WebChat(engine)
    steps, answer = _answer(chat, chat.new_session(), 'Hi?', GenerationOptions(max_new_tokens=64))
    partial = [s[0].messages[-1]['content'] for s in steps[1:-1]]
    assert len(partial) >= 2 and all(answer.startswith(p) for p in partial)
    assert answer == '&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;'


def test_upload_limits(tiny_engine, tmp_path):
    chat = WebChat(tiny_engine, ImageLimits(max_bytes=2000, max_pixels=100 * 100, max_images=2))
    cases = {'big.png': png_bytes('red', (200, 200)), 'fake.png': b'<html>not an image</html>',
             'noise.png': os.urandom(3000)}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        session, status = chat.add_image(None, str(tmp_path / name))
        assert status.startswith(f'not added: {name}') and session.num_images == 0, status
    (tmp_path / 'ok.png').write_bytes(png_bytes('red'))
    session = chat.new_session()
    for n in (1, 2):
        session, status = chat.add_image(session, str(tmp_path / 'ok.png'))
        chat_steps = list(chat.ask(session, 'And?', OPTS))
        assert chat_steps[-1][1] == answer_done(n)
    session, status = chat.add_image(session, str(tmp_path / 'ok.png'))
    assert status.startswith('not added: at most 2 images')
    with pytest.raises(ValueError, match='top_p'):
        chat.options('sample', 10, 1.0, 1.5, 3)


# ------------------------------------------------------------------ in a browser
def _fake_engine(text=None, delay=0.08):
    """A tiny engine whose model 'generates' ``text`` (default: an echo of the question in
    markup) token by token, slowly enough to see streaming."""
    model = build_tiny()
    engine = ChatEngine(model, build_image_transform(tiny_model_cfg()['vision_encoder']))
    tok = engine.tokenizer

    def generate(input_ids, images=None, streamer=None, stopping_criteria=(), **kw):
        prompt = tok.decode(input_ids[0], skip_special_tokens=True)
        question = prompt.rsplit('### Instruction:\n', 1)[-1].split('\n\n###')[0]
        out = input_ids
        if streamer is not None:
            streamer.put(input_ids)
        for tid in tok.encode(text or f'<b>{question}</b> & <i>done</i>',
                              add_special_tokens=False):
            out = torch.cat([out, torch.tensor([[tid]])], dim=1)
            if streamer is not None:
                streamer.put(torch.tensor([tid]))
            time.sleep(delay)
        if streamer is not None:
            streamer.end()
        return out[:, input_ids.shape[1]:]

    model.generate = generate
    return engine


class Page:
    """The web demo in one browser session."""

    def __init__(self, driver, url):
        from selenium.webdriver.common.by import By

        self.d, self.by = driver, By
        driver.get(url)
        self.wait(lambda: self.d.find_elements(By.CSS_SELECTOR, '#question textarea'), 60,
                  'the page to load')

    def wait(self, cond, timeout, what):
        end = time.time() + timeout
        while time.time() < end:
            value = cond()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f'timed out waiting for {what}; status: {self.status()!r}')

    def css(self, sel):
        return self.d.find_elements(self.by.CSS_SELECTOR, sel)

    def js(self, script):
        """Read the page in one script (elements re-render while answers stream)."""
        return self.d.execute_script(script)

    def status(self):
        return self.js("const e = document.querySelector('#status textarea');"
                       'return e ? e.value : null;')

    def _texts(self, role):
        return self.js(f"return Array.from(document.querySelectorAll("
                       f"'#chatbot [data-testid={role}]')).map(e => e.innerText);")

    def bot_texts(self):
        return self._texts('bot')

    def user_texts(self):
        return self._texts('user')

    def prompt(self):
        return self.js("return document.querySelector('#prompt textarea').value;")

    def upload(self, path):
        self.css('#image-upload input[type=file]')[0].send_keys(str(path))
        self.wait(lambda: (self.status() or '').startswith(('image added', 'not added')), 60,
                  'the upload')
        return self.status()

    def send(self, question):
        box = self.css('#question textarea')[0]
        box.send_keys(question)
        self.css('#send')[0].click()

    def read_answer(self, n, timeout=120):
        """Wait for the n-th answer to finish; return it and the partial texts seen."""
        seen = []
        end = time.time() + timeout
        while time.time() < end:
            texts = self.bot_texts()
            if len(texts) >= n and (not seen or seen[-1] != texts[n - 1]):
                seen.append(texts[n - 1])
            if self.status() == answer_done(n):
                return self.bot_texts()[n - 1], seen
            time.sleep(0.05)
        raise AssertionError(f'answer {n} did not finish: {seen}, status {self.status()!r}')


@pytest.fixture
def fake_site():
    engine = _fake_engine()
    demo = build_webui(engine)
    port = free_port()
    launch_webui(demo, port=port, prevent_thread_lock=True, quiet=True)
    yield f'http://127.0.0.1:{port}/'
    demo.close()


# ~25 s on 2 shared cores (two headless Chromium sessions, a tiny model)
def test_browser_streams_text_only_and_keeps_sessions_apart(browser, fake_site, tmp_path):
    image = tmp_path / 'red.png'
    image.write_bytes(png_bytes('red'))
    first = Page(browser(), fake_site)
    assert first.upload(image).startswith('image added')
    first.send('Hello <b>one</b>?')
    answer, seen = first.read_answer(1)
    assert answer == '<b>Hello <b>one</b>?</b> & <i>done</i>'  # shown literally
    assert len([s for s in seen if s and s != answer]) >= 2  # streamed pieces were shown
    assert first.js("return document.querySelectorAll('#chatbot [data-testid=bot] b, "
                    "#chatbot [data-testid=bot] i, #chatbot script').length;") == 0
    assert first.user_texts()[-1] == 'Hello <b>one</b>?'
    assert '### Image:\n<image>' in first.prompt() and 'Hello <b>one</b>?' in first.prompt()
    # a second browser context at the same time: nothing of the first conversation
    second = Page(browser(), fake_site)
    assert second.bot_texts() == [] and second.user_texts() == []
    assert 'Hello' not in second.prompt() and '<image>' not in second.prompt()
    # both ask at once: the queue runs one generation at a time, each gets its own answer
    first.send('Again from one?')
    second.send('From two?')
    assert first.read_answer(2)[0] == '<b>Again from one?</b> & <i>done</i>'
    assert second.read_answer(1)[0] == '<b>From two?</b> & <i>done</i>'
    assert first.bot_texts()[0] == answer and len(second.bot_texts()) == 1
    # clear empties this session only
    first.css('#clear')[0].click()
    first.wait(lambda: first.bot_texts() == [], 30, 'the clear')
    assert second.bot_texts() == ['<b>From two?</b> & <i>done</i>']
    # an upload that is not an image is refused with a message
    bad = tmp_path / 'bad.png'
    bad.write_bytes(b'<html>no</html>')
    assert first.upload(bad).startswith('not added: bad.png')


# about 1 to 2 minutes (the trained demo, or training it once if absent; two browsers)
def test_browser_answers_about_a_held_out_image(browser, trained_demo):
    data = os.path.join(trained_demo, 'data')
    with open(os.path.join(data, 'eval_items.json')) as f:
        items = [i for i in json.load(f) if i['task'] == 'dialog']
    engine = demo_engine(trained_demo)
    options = GenerationOptions(max_new_tokens=24)

    def direct(item):
        conv = engine.new_conversation()
        conv.add_image(os.path.join(data, item['image']))
        return [engine.ask(conv, q, options) for q in item['turns']]

    def right(item, answers):
        return (normalize_words(answers[0]) == normalize_words(item['history_answers'][0])
                and score_answer(item, answers[1]))

    # the first held-out dialogue the model answers right (it gets 92% of them)
    item = next(i for i in items[:10] if right(i, direct(i)))
    expected = direct(item)
    demo = build_webui(engine)
    port = free_port()
    launch_webui(demo, port=port, prevent_thread_lock=True, quiet=True)
    try:
        page = Page(browser(1400, 1250), f'http://127.0.0.1:{port}/')
        assert page.upload(os.path.join(data, item['image'])).startswith('image added')
        answers = []
        for n, question in enumerate(item['turns'], 1):
            page.send(question)
            answers.append(page.read_answer(n)[0])
        assert answers == expected and right(item, answers), (item, answers)
        assert [t for t in page.user_texts() if t] == item['turns']  # and the image
        prompt = page.prompt()
        assert prompt.count('### Instruction:') == 2 and answers[0] in prompt
        other = Page(browser(), f'http://127.0.0.1:{port}/')
        assert other.bot_texts() == [] and item['turns'][0] not in other.prompt()
        shot = os.path.join(os.path.dirname(os.path.abspath(__file__)), '_webui.png')
        page.d.save_screenshot(shot)
        target = os.environ.get('MMGPT_SCREENSHOT_DIR')
        if target:  # refresh the screenshot of docs/serving.md
            os.makedirs(target, exist_ok=True)
            shutil.copy(shot, os.path.join(target, 'webui.png'))
        os.remove(shot)
        print(f'webui answered {item["id"]} ({item["image"]}): {answers}')
    finally:
        demo.close()


# ~30 s (a fresh process imports torch and gradio and builds the tiny model)
def test_webui_tool_listens_on_localhost_without_a_share_link(tmp_path):
    import subprocess
    import sys

    import httpx
    from serving_fixtures import REPO, wait_for_http

    from mmgpt.testing import TINY_MODEL_CONFIG

    torch.save(build_tiny().state_dict(), tmp_path / 'lora.pth')
    port = free_port()
    proc = subprocess.Popen([sys.executable, os.path.join(REPO, 'tools', 'webui.py'),
                             TINY_MODEL_CONFIG, str(tmp_path / 'lora.pth'), '--port', str(port)],
                            cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS='1'),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_http(f'http://127.0.0.1:{port}/', proc)
        assert httpx.get(f'http://127.0.0.1:{port}/').status_code == 200
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert f'web demo on http://127.0.0.1:{port} (this machine only; no public share link' in out
    assert 'gradio.live' not in out
