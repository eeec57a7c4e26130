"""A gradio web demo over the chat engine, safe by default.

:class:`WebChat` holds the logic (one :class:`ChatSession` per browser session, image
uploads checked by :mod:`mmgpt.serving.images`, streamed answers, the exact prompt) and
is usable without a browser; :func:`build_webui` lays it out in ``gradio`` Blocks.

Safety: each browser session gets its own conversation (a ``gr.State``, never shared);
generation is one queued event with a concurrency limit of 1, so concurrent visitors wait
their turn; uploads are limited in size, type, pixel count and number, and decoded by the
project's image reader after their header is checked; the model's text is shown as text
(HTML-escaped, and the chat box renders neither Markdown nor HTML). Binding to
localhost and not asking gradio for a share link are the launcher's defaults
(``tools/webui.py``).
"""
from __future__ import annotations

import html
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from mmgpt.inference import ChatEngine, Conversation, GenerationOptions

from .images import ImageLimits, ImageRejected, load_untrusted_image

__all__ = ['ChatSession', 'WebChat', 'build_webui', 'launch_webui', 'as_text', 'answer_done',
           'READY', 'GENERATING', 'WEBUI_CSS']

#: The status line of a fresh page (after an answer it reads ``answer N done``).
READY = 'ready'
GENERATING = 'generating ...'


def answer_done(n: int) -> str:
    """The status line once the session's n-th answer is complete."""
    return f'answer {n} done'


def as_text(text: str) -> str:
    """Model or user text made safe for the chat box: HTML-escaped, so markup shows as
    the characters it is made of (``<b>x</b>`` stays ``<b>x</b>``)."""
    return html.escape(text, quote=False)


@dataclass
class ChatSession:
    """One browser session's state (kept in a ``gr.State``).

    Attributes:
        conversation (Conversation): The engine's conversation.
        messages (list[dict]): What the chat box shows (``role``/``content``).
        num_images (int): Images added so far (limited per conversation).
        num_answers (int): Answers given so far.
    """

    conversation: Conversation = field(default_factory=Conversation)
    messages: list = field(default_factory=list)
    num_images: int = 0
    num_answers: int = 0


class _Stopped(Exception):
    """The visitor left while an answer was being generated."""


class WebChat:
    """The web demo's behaviour, independent of the page layout.

    Args:
        engine (ChatEngine): The chat engine (shared; its lock serialises generation).
        limits (ImageLimits, optional): Upload limits. Defaults to :class:`ImageLimits` ().
    """

    def __init__(self, engine: ChatEngine, limits: ImageLimits | None = None):
        self.engine, self.limits = engine, limits or ImageLimits()

    def new_session(self) -> ChatSession:
        """A fresh session."""
        return ChatSession(self.engine.new_conversation())

    def prompt_preview(self, session: ChatSession) -> str:
        """The exact prompt of the last answer, or of the next question if none yet."""
        conv = session.conversation
        if conv.last_prompt is not None and conv.pending_image is None:
            return conv.last_prompt
        return self.engine.prompt_text(conv, '<your next question>')

    def add_image(self, session: ChatSession | None, path: str | None) -> tuple:
        """Check, decode and add an uploaded image; it binds to the next question.

        Returns:
            tuple: ``(session, status)``; status says what happened or what was wrong.
        """
        session = session or self.new_session()
        if not path:
            return session, READY
        if session.num_images >= self.limits.max_images:
            return session, (f'not added: at most {self.limits.max_images} images per '
                             'conversation (press Clear to start a new one)')
        try:
            image = load_untrusted_image(path, self.limits, name=os.path.basename(path))
        except ImageRejected as err:
            return session, f'not added: {err}'
        replaced = session.conversation.pending_image is not None
        if replaced:  # the unanswered image is replaced, in the chat box too
            session.messages.pop()
            session.num_images -= 1
        session.conversation.add_image(image)
        session.num_images += 1
        session.messages.append({'role': 'user', 'content': {'path': path}})
        note = ' (it replaces the previous image, which had no question yet)' if replaced else ''
        return session, f'image added{note}: your next question is about it'

    def options(self, mode: str, max_new_tokens, temperature, top_p, num_beams
                ) -> GenerationOptions:
        """Validated generation options from the page's controls (ValueError if bad)."""
        return GenerationOptions(max_new_tokens=int(max_new_tokens), mode=str(mode),
                                 temperature=float(temperature), top_p=float(top_p),
                                 num_beams=int(num_beams))

    def ask(self, session: ChatSession | None, question: str,
            options: GenerationOptions) -> Iterator[tuple]:
        """Answer a question, streaming.

        Yields:
            tuple: ``(session, status)`` after each new piece of the answer (status
            :data:`GENERATING`); the last one has status ``answer N done`` (N counts
            the session's answers; :func:`answer_done`) or the error.
        """
        session = session or self.new_session()
        if not question or not question.strip():
            yield session, 'type a question first'
            return
        session.messages.append({'role': 'user', 'content': as_text(question)})
        session.messages.append({'role': 'assistant', 'content': ''})
        yield session, GENERATING
        pieces: queue.Queue = queue.Queue()
        stop = threading.Event()

        def on_piece(text: str):
            if stop.is_set():
                raise _Stopped()
            pieces.put(('piece', text))

        def work():
            try:
                pieces.put(('done', self.engine.ask(session.conversation, question, options,
                                                    stream=on_piece)))
            except Exception as err:  # noqa: BLE001 - reported on the page
                pieces.put(('error', err))

        threading.Thread(target=work, daemon=True, name='mmgpt-webui-gen').start()
        text = ''
        try:
            while True:
                kind, value = pieces.get()
                if kind == 'piece':
                    text += value
                    session.messages[-1]['content'] = as_text(text)
                    yield session, GENERATING
                elif kind == 'done':
                    session.messages[-1]['content'] = as_text(value)
                    session.num_answers += 1
                    yield session, answer_done(session.num_answers)
                    return
                else:
                    session.messages.pop()
                    session.messages.pop()
                    yield session, f'error: {value}'
                    return
        finally:
            stop.set()  # the visitor left: a generation still running stops

    def clear(self) -> ChatSession:
        """A new, empty session (the old one is dropped)."""
        return self.new_session()


def _slider(gr, name: str, label: str, value, step, low=None, **kwargs):
    lo, hi = GenerationOptions.RANGES[name]
    return gr.Slider(minimum=lo if low is None else low, maximum=hi, value=value, step=step,
                     label=f'{label} ({lo if low is None else low:g} to {hi:g})', **kwargs)


WEBUI_CSS = '#chatbot .message-content, #chatbot .message { white-space: pre-wrap; }'


def build_webui(engine: ChatEngine, limits: ImageLimits | None = None,
                title: str = 'MultiModal-GPT', max_queue: int = 64):
    """The gradio Blocks of the web demo (call ``.launch(...)`` on it).

    Args:
        engine (ChatEngine): The chat engine.
        limits (ImageLimits, optional): Upload limits. Defaults to :class:`ImageLimits` ().
        title (str): Page title. Defaults to ``'MultiModal-GPT'``.
        max_queue (int): Most events waiting in the queue. Defaults to 64.

    Returns:
        gradio.Blocks: Queued, generation limited to one at a time.
    """
    import gradio as gr  # heavy: only when a page is built

    limits = limits or ImageLimits()
    chat = WebChat(engine, limits)

    def on_image(session, path):
        session, status = chat.add_image(session, path)
        return session, session.messages, chat.prompt_preview(session), status, None

    def on_ask(session, question, mode, max_new, temperature, top_p, beams):
        session = session or chat.new_session()
        try:
            options = chat.options(mode, max_new, temperature, top_p, beams)
        except ValueError as err:
            yield session, session.messages, gr.skip(), gr.skip(), f'invalid option: {err}'
            return
        for current, status in chat.ask(session, question, options):
            done = status != GENERATING
            answered = status == answer_done(current.num_answers)
            yield (current, current.messages, '' if answered else gr.skip(),
                   chat.prompt_preview(current) if done else gr.skip(), status)

    def on_clear():
        session = chat.clear()
        return session, [], chat.prompt_preview(session), READY, None, ''

    with gr.Blocks(title=title, analytics_enabled=False) as demo:
        state = gr.State(None, time_to_live=6 * 3600)  # per session; idle ones expire
        gr.Markdown(f'## {html.escape(title)}\nAdd an image, then ask about it. Each image '
                    'belongs to the question that follows it.')
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label='Conversation', elem_id='chatbot', height=560,
                                     render_markdown=False, sanitize_html=True,
                                     feedback_options=None, allow_tags=False,
                                     group_consecutive_messages=False, buttons=['copy'],
                                     allow_file_downloads=False)
                question = gr.Textbox(label='Your question', elem_id='question', lines=2,
                                      max_lines=8, max_length=4000,
                                      placeholder='e.g. How many shapes are there?')
                with gr.Row():
                    send = gr.Button('Send', elem_id='send', variant='primary')
                    clear = gr.Button('Clear', elem_id='clear')
                status = gr.Textbox(READY, label='Status', elem_id='status', interactive=False)
            with gr.Column(scale=2):
                upload = gr.File(label=f'Add an image ({", ".join(limits.formats)}; at most '
                                 f'{limits.max_bytes // 2**20} MB)', elem_id='image-upload',
                                 file_count='single', type='filepath',
                                 file_types=limits.extensions)
                with gr.Accordion('Generation options', open=True):
                    mode = gr.Radio(['greedy', 'sample', 'beam'], value='greedy',
                                    label='Decoding', elem_id='mode')
                    max_new = _slider(gr, 'max_new_tokens', 'Max new tokens', 128, 1,
                                      elem_id='max-new-tokens')
                    temperature = _slider(gr, 'temperature', 'Temperature (sample)', 1.0,
                                          0.05, low=0.05, elem_id='temperature')
                    top_p = _slider(gr, 'top_p', 'Top-p (sample)', 1.0, 0.05, low=0.05,
                                    elem_id='top-p')
                    beams = _slider(gr, 'num_beams', 'Beams (beam)', 3, 1, elem_id='beams')
                prompt = gr.Textbox(label='Exact prompt (of the last answer)', elem_id='prompt',
                                    interactive=False, lines=10, max_lines=40)
        upload.upload(on_image, [state, upload], [state, chatbot, prompt, status, upload],
                      concurrency_limit=4)
        ask_inputs = [state, question, mode, max_new, temperature, top_p, beams]
        ask_outputs = [state, chatbot, question, prompt, status]
        for event in (send.click, question.submit):
            event(on_ask, ask_inputs, ask_outputs, concurrency_limit=1,
                  concurrency_id='generate')
        clear_outputs = [state, chatbot, prompt, status, upload, question]
        clear.click(on_clear, None, clear_outputs)
        chatbot.clear(on_clear, None, clear_outputs)  # the chat box's own bin icon
        demo.load(lambda: chat.prompt_preview(chat.new_session()), None, prompt)
    demo.queue(default_concurrency_limit=1, max_size=max_queue)
    return demo


def launch_webui(demo, host: str = '127.0.0.1', port: int = 7860, share: bool = False,
                 limits: ImageLimits | None = None, **kwargs):
    """Launch the page with the safe defaults.

    Args:
        demo (gradio.Blocks): From :func:`build_webui`.
        host (str): Interface to listen on. Defaults to ``'127.0.0.1'`` (this machine).
        port (int): Defaults to 7860.
        share (bool): Ask gradio for a public share link. Defaults to False.
        limits (ImageLimits): Its ``max_bytes`` is also gradio's upload size limit.
        **kwargs: More ``Blocks.launch`` arguments (e.g. ``prevent_thread_lock=True``).
    """
    return demo.launch(server_name=host, server_port=port, share=share,
                       max_file_size=(limits or ImageLimits()).max_bytes, show_error=False,
                       css=WEBUI_CSS, ssr_mode=False, mcp_server=False, pwa=False, **kwargs)
