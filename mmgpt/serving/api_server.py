"""An OpenAI-compatible HTTP API over the chat engine (FastAPI).

``create_app(engine, settings)`` serves ``GET /v1/models``, ``GET /v1/models/{id}`` and
``POST /v1/chat/completions`` (non-streaming, or server-sent events ending with
``data: [DONE]``). Requests are validated by :mod:`mmgpt.serving.openai_protocol`;
images are checked and decoded by :mod:`mmgpt.serving.images` (data URLs, or local files
under ``settings.image_dir``; remote URLs are never fetched). Every error, including
unknown paths and unexpected failures, is a JSON body in OpenAI's error shape, and the
server keeps serving. Generation runs in worker threads; the engine's lock lets one
generation use the model at a time, the others wait (at most ``settings.max_pending``
requests, then 429).
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mmgpt.inference import ChatEngine, ContextLengthError

from .images import ImageRejected, decode_data_url, load_untrusted_image, resolve_local_image
from .openai_protocol import (
    APIError,
    ChatRequest,
    ServingSettings,
    chunk,
    completion,
    error_body,
    new_request_id,
    parse_chat_request,
)

__all__ = ['create_app', 'load_image_ref']

logger = logging.getLogger('mmgpt.serving')


class _Cancelled(Exception):
    """The streaming client went away: stop generating."""


def load_image_ref(ref, settings: ServingSettings):
    """Load an :class:`~mmgpt.serving.openai_protocol.ImageRef` (data URL or local file).

    Raises:
        APIError: 400 for a remote URL, a refused local path or a rejected image.
    """
    url = ref.url.strip()
    limits = settings.image_limits
    try:
        if url.startswith('data:'):
            return load_untrusted_image(decode_data_url(url, limits), limits, name=ref.param)
        if url.lower().startswith(('http://', 'https://', 'ftp://', '//')):
            raise APIError(400, f'{ref.param}: remote image URLs are not fetched by this '
                           'server; send the image as a data URL '
                           '(data:image/png;base64,...)', ref.param, 'remote_url_not_allowed')
        if ':' in url.split('/', 1)[0] and not url.startswith('file://'):
            raise APIError(400, f'{ref.param}: unsupported image URL scheme '
                           f'{url.split(":", 1)[0]!r}', ref.param, 'invalid_image_url')
        path = resolve_local_image(url, settings.image_dir)
        return load_untrusted_image(path, limits, name=ref.param)
    except ImageRejected as err:
        status = 413 if err.code == 'image_too_large' else 400
        message = str(err) if str(err).startswith(ref.param) else f'{ref.param}: {err}'
        raise APIError(status, message, ref.param, err.code) from err


def _error(err: APIError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status)


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get('content-length')
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise APIError(413, f'request body larger than the limit of {limit} bytes', None,
                       'request_too_large')
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise APIError(413, f'request body larger than the limit of {limit} bytes', None,
                           'request_too_large')
    return bytes(body)


def create_app(engine: ChatEngine, settings: ServingSettings) -> FastAPI:
    """The FastAPI application.

    Args:
        engine (ChatEngine): The chat engine (shared by all requests; its lock
            serialises generation).
        settings (ServingSettings): Model name, limits, image directory, API key.
    """
    app = FastAPI(title='mmgpt OpenAI-compatible API', docs_url=None, redoc_url=None,
                  openapi_url=None)
    executor = ThreadPoolExecutor(max_workers=settings.max_pending,
                                  thread_name_prefix='mmgpt-gen')
    pending = [0]
    pending_lock = threading.Lock()
    created = int(time.time())

    @app.exception_handler(APIError)
    async def _api_error(request, err: APIError):
        return _error(err)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, err: StarletteHTTPException):
        kind = 'not_found_error' if err.status_code == 404 else 'invalid_request_error'
        return JSONResponse(error_body(f'{request.method} {request.url.path}: {err.detail}',
                                       kind, None, None), status_code=err.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request, err: Exception):
        logger.exception('unexpected error on %s', request.url.path)
        return JSONResponse(error_body(f'internal error: {type(err).__name__}', 'server_error'),
                            status_code=500)

    @app.middleware('http')
    async def _auth(request: Request, call_next):
        if settings.api_key:
            header = request.headers.get('authorization', '')
            scheme, _, token = header.partition(' ')
            if scheme.lower() != 'bearer' or not hmac.compare_digest(
                    token.strip().encode(), settings.api_key.encode()):
                return JSONResponse(error_body(
                    'missing or invalid API key (send Authorization: Bearer <key>)',
                    'invalid_request_error', None, 'invalid_api_key'), status_code=401)
        return await call_next(request)

    def model_card() -> dict:
        return {'id': settings.model_name, 'object': 'model', 'created': created,
                'owned_by': 'mmgpt'}

    @app.get('/v1/models')
    async def list_models():
        return {'object': 'list', 'data': [model_card()]}

    @app.get('/v1/models/{model_id:path}')
    async def get_model(model_id: str):
        if model_id != settings.model_name:
            raise APIError(404, f'The model {model_id!r:.80} does not exist', 'model',
                           'model_not_found')
        return model_card()

    def prepare(req: ChatRequest):
        """Load the images and build the conversation (in a worker thread)."""
        conv = engine.new_conversation()
        for turn in req.history:
            image = load_image_ref(turn['image'], settings) if turn['image'] else None
            conv.turns.append(dict(turn, image=image))
        if req.image is not None:
            conv.pending_image = load_image_ref(req.image, settings)
        return conv

    def answer(req: ChatRequest, stream=None):
        conv = prepare(req)
        try:
            text = engine.ask(conv, req.question, req.options, stream=stream,
                              context=req.context)
        except ContextLengthError as err:
            raise APIError(400, str(err), 'messages', 'context_length_exceeded') from err
        return text, conv.last_usage

    @app.post('/v1/chat/completions')
    async def chat_completions(request: Request):
        raw = await _read_body(request, settings.max_body_bytes)
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise APIError(400, f'the request body is not valid JSON ({err})', None,
                           'invalid_json') from err
        req = parse_chat_request(body, settings)
        with pending_lock:
            if pending[0] >= settings.max_pending:
                raise APIError(429, f'the server is busy ({pending[0]} requests in '
                               'progress); retry later', None, 'server_busy',
                               'rate_limit_error')
            pending[0] += 1
        released = [False]

        def release():
            with pending_lock:
                if not released[0]:
                    released[0] = True
                    pending[0] -= 1

        loop = asyncio.get_running_loop()
        request_id, now = new_request_id(), int(time.time())
        if not req.stream:
            try:
                text, usage = await loop.run_in_executor(executor, answer, req)
            finally:
                release()
            return completion(request_id, settings.model_name, text, usage, now)
        return await _stream(req, request_id, now, loop, release)

    async def _stream(req, request_id, now, loop, release):
        queue: asyncio.Queue = asyncio.Queue()
        gone = threading.Event()
        put = lambda item: loop.call_soon_threadsafe(queue.put_nowait, item)  # noqa: E731

        def on_piece(text: str):
            if gone.is_set():
                raise _Cancelled()
            put(('piece', text))

        def work():
            try:
                put(('done', answer(req, stream=on_piece)))
            except BaseException as err:  # noqa: BLE001 - handed to the event loop
                put(('error', err))
            finally:
                release()

        loop.run_in_executor(executor, work)
        first = await queue.get()  # errors before the first piece are plain JSON errors
        if first[0] == 'error':
            gone.set()
            raise first[1]

        def sse(obj) -> str:
            return f'data: {json.dumps(obj, ensure_ascii=False)}\n\n'

        async def events():
            item = first
            try:
                yield sse(chunk(request_id, settings.model_name, now,
                                {'role': 'assistant', 'content': ''}))
                while True:
                    if item[0] == 'piece':
                        yield sse(chunk(request_id, settings.model_name, now,
                                        {'content': item[1]}))
                    elif item[0] == 'done':
                        usage = item[1][1]
                        yield sse(chunk(request_id, settings.model_name, now, {},
                                        usage['finish_reason']))
                        if req.include_usage:
                            yield sse(chunk(request_id, settings.model_name, now,
                                            usage=usage))
                        break
                    else:
                        err = item[1]
                        body = err.body() if isinstance(err, APIError) else error_body(
                            f'internal error: {type(err).__name__}', 'server_error')
                        yield sse(body)
                        break
                    item = await queue.get()
                yield 'data: [DONE]\n\n'
            finally:
                gone.set()  # client gone or stream over: a running generation stops

        return StreamingResponse(events(), media_type='text/event-stream',
                                 headers={'Cache-Control': 'no-cache'})

    app.state.executor = executor
    return app
