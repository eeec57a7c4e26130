"""The OpenAI chat-completions protocol mapped onto the chat engine (no web framework).

:func:`parse_chat_request` validates a decoded JSON request body and turns it into a
:class:`ChatRequest`: the earlier turns of a :class:`~mmgpt.inference.Conversation`,
the question to answer, and :class:`~mmgpt.inference.GenerationOptions`. Every problem
raises :class:`APIError` with the HTTP status and the OpenAI error fields
(``message``, ``type``, ``param``, ``code``); :func:`completion` and :func:`chunk`
build the response objects.

How messages map onto the conversation (the template of the model is fixed: its system
line is the one it was trained with):

- ``user`` messages open a turn: their text parts (joined by newlines) are the turn's
  instruction, an ``image_url`` part is the turn's image (at most one per turn: the
  template binds one image to a turn). Consecutive user messages are one turn.
- ``assistant`` messages are the response of the turn before them.
- ``system`` (and ``developer``) messages cannot replace the template's system line;
  with ``system_messages='input'`` (the default) their text becomes the ``### Input:``
  section (the template's context slot) of the next user turn; ``'ignore'`` drops them,
  ``'reject'`` answers 400.
- The last message must be a user message: it is the question.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from mmgpt.inference import GenerationOptions

from .images import ImageLimits

__all__ = ['APIError', 'ServingSettings', 'ChatRequest', 'ImageRef', 'parse_chat_request',
           'completion', 'chunk', 'error_body', 'new_request_id', 'KNOWN_FIELDS']


class APIError(Exception):
    """An error answered to the client in OpenAI's shape.

    Args:
        status (int): HTTP status.
        message (str): What is wrong.
        param (str, optional): The request field at fault, e.g. ``'messages[1].role'``.
        code (str, optional): A short reason, e.g. ``'model_not_found'``.
        type (str): OpenAI's error type. Defaults to ``'invalid_request_error'``.
    """

    def __init__(self, status: int, message: str, param: str | None = None,
                 code: str | None = None, type: str = 'invalid_request_error'):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = (
            status, message, param, code, type)

    def body(self) -> dict:
        """The JSON body: ``{"error": {"message", "type", "param", "code"}}``."""
        return error_body(self.message, self.type, self.param, self.code)


def error_body(message: str, type: str = 'invalid_request_error', param: str | None = None,
               code: str | None = None) -> dict:
    """OpenAI's error object."""
    return {'error': {'message': message, 'type': type, 'param': param, 'code': code}}


@dataclass
class ServingSettings:
    """What a server accepts.

    Args:
        model_name (str): The one model id served (``/v1/models``, ``model``).
        image_limits (ImageLimits): Size, pixel, type and count limits on images.
        image_dir (str, optional): Local image paths are allowed only under this
            directory; None (the default) refuses every local path.
        max_body_bytes (int): Largest request body. Defaults to 32 MiB.
        max_messages (int): Most messages in one request. Defaults to 256.
        default_max_tokens (int): ``max_new_tokens`` when the request gives none.
            Defaults to 128.
        system_messages (str): ``'input'``, ``'ignore'`` or ``'reject'`` (see the module
            docstring). Defaults to ``'input'``.
        api_key (str, optional): When set, every request needs
            ``Authorization: Bearer <api_key>``. Defaults to None.
        max_pending (int): Requests generating or waiting for the model at once; more
            get 429. Defaults to 32.
    """

    model_name: str
    image_limits: ImageLimits = field(default_factory=ImageLimits)
    image_dir: str | None = None
    max_body_bytes: int = 32 * 1024 * 1024
    max_messages: int = 256
    default_max_tokens: int = 128
    system_messages: str = 'input'
    api_key: str | None = None
    max_pending: int = 32

    def __post_init__(self):
        if self.system_messages not in ('input', 'ignore', 'reject'):
            raise ValueError("system_messages must be 'input', 'ignore' or 'reject', got "
                             f'{self.system_messages!r}')


@dataclass
class ImageRef:
    """An image part of a message, not yet loaded: a data URL or a local path."""

    url: str
    param: str


@dataclass
class ChatRequest:
    """A validated chat-completions request.

    Attributes:
        history (list[dict]): Earlier turns, ``dict(instruction, input, response,
            image)`` with ``image`` an :class:`ImageRef` or None.
        question (str): The last user message's text.
        context (str): The last turn's ``### Input:`` text (from system messages).
        image (ImageRef, optional): The last user message's image.
        options (GenerationOptions): Generation options.
        stream (bool): Answer as server-sent events.
        include_usage (bool): Streaming: send a last chunk with token usage.
    """

    history: list
    question: str
    context: str
    image: ImageRef | None
    options: GenerationOptions
    stream: bool = False
    include_usage: bool = False


def _bad(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param, code)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _typed(body: dict, name: str, check, expected: str):
    value = body.get(name)
    if value is not None and not check(value):
        raise _bad(f'{name} must be {expected}, got {type(value).__name__} {value!r:.60}',
                   name, 'invalid_type')
    return value


# name -> (type check, description); None values always mean "not given"
_FIELD_TYPES = {
    'model': (lambda v: isinstance(v, str), 'a string'),
    'messages': (lambda v: isinstance(v, list), 'an array of messages'),
    'stream': (lambda v: isinstance(v, bool), 'a boolean'),
    'stream_options': (lambda v: isinstance(v, dict), 'an object'),
    'max_tokens': (_is_int, 'an integer'),
    'max_completion_tokens': (_is_int, 'an integer'),
    'temperature': (_is_num, 'a number'),
    'top_p': (_is_num, 'a number'),
    'top_k': (_is_int, 'an integer'),
    'repetition_penalty': (_is_num, 'a number'),
    'num_beams': (_is_int, 'an integer'),
    'n': (_is_int, 'an integer'),
    'stop': (lambda v: isinstance(v, str) or (
        isinstance(v, list) and all(isinstance(w, str) for w in v)),
        'a string or an array of strings'),
    'seed': (_is_int, 'an integer'),
    'presence_penalty': (_is_num, 'a number'),
    'frequency_penalty': (_is_num, 'a number'),
    'logprobs': (lambda v: isinstance(v, bool), 'a boolean'),
    'top_logprobs': (_is_int, 'an integer'),
    'logit_bias': (lambda v: isinstance(v, dict), 'an object'),
    'user': (lambda v: isinstance(v, str), 'a string'),
    'response_format': (lambda v: isinstance(v, dict), 'an object'),
    'tools': (lambda v: isinstance(v, list), 'an array'),
    'tool_choice': (lambda v: isinstance(v, (str, dict)), 'a string or an object'),
    'parallel_tool_calls': (lambda v: isinstance(v, bool), 'a boolean'),
    'metadata': (lambda v: isinstance(v, dict), 'an object'),
    'store': (lambda v: isinstance(v, bool), 'a boolean'),
}
#: The request fields understood (others are refused, as OpenAI does).
KNOWN_FIELDS = frozenset(_FIELD_TYPES)


def _check_unsupported(body: dict) -> None:
    if body.get('n') not in (None, 1):
        raise _bad('only n=1 is supported', 'n', 'unsupported_value')
    for name in ('presence_penalty', 'frequency_penalty'):
        if body.get(name) not in (None, 0):
            raise _bad(f'{name} is not supported (only 0); use repetition_penalty', name,
                       'unsupported_value')
    if body.get('logprobs') or body.get('top_logprobs') is not None:
        raise _bad('logprobs are not supported', 'logprobs', 'unsupported_value')
    if body.get('logit_bias'):
        raise _bad('logit_bias is not supported', 'logit_bias', 'unsupported_value')
    if body.get('tools') or body.get('tool_choice') not in (None, 'none', 'auto'):
        raise _bad('tools are not supported by this model', 'tools', 'unsupported_value')
    fmt = body.get('response_format')
    if fmt is not None and fmt.get('type') != 'text':
        raise _bad('only response_format {"type": "text"} is supported', 'response_format',
                   'unsupported_value')


def _options(body: dict, settings: ServingSettings) -> GenerationOptions:
    max_tokens, max_completion = body.get('max_tokens'), body.get('max_completion_tokens')
    if max_tokens is not None and max_completion is not None and max_tokens != max_completion:
        raise _bad('max_tokens and max_completion_tokens differ; give one',
                   'max_completion_tokens')
    limit = max_completion if max_completion is not None else max_tokens
    temperature, top_p, top_k = body.get('temperature'), body.get('top_p'), body.get('top_k')
    beams = body.get('num_beams')
    kwargs = dict(max_new_tokens=settings.default_max_tokens if limit is None else limit)
    if beams is not None and beams > 1:
        kwargs.update(mode='beam', num_beams=beams)
    elif temperature == 0 or (temperature is None and top_p is None and top_k is None):
        kwargs.update(mode='greedy')  # the server's default is deterministic
    else:
        kwargs.update(mode='sample', temperature=1.0 if temperature is None else temperature)
        if top_p is not None:
            kwargs['top_p'] = top_p
        if top_k is not None:
            kwargs['top_k'] = top_k
    if temperature is not None and temperature < 0:
        raise _bad(f'temperature must be in [0, 5], got {temperature}', 'temperature',
                   'invalid_value')
    for name in ('repetition_penalty', 'seed'):
        if body.get(name) is not None:
            kwargs[name] = body[name]
    stop = body.get('stop')
    if stop is not None:
        kwargs['stop'] = (stop,) if isinstance(stop, str) else tuple(stop)
    try:
        return GenerationOptions(**kwargs)
    except ValueError as err:
        param = next((k for k in ('max_new_tokens', 'num_beams', 'temperature', 'top_k',
                                  'top_p', 'repetition_penalty', 'stop')
                      if str(err).startswith(k)), None)
        names = {'max_new_tokens': 'max_tokens', 'num_beams': 'num_beams'}
        raise _bad(f'{err}'.replace('max_new_tokens', 'max_tokens'),
                   names.get(param, param), 'invalid_value') from err


def _content(message: dict, where: str) -> tuple:
    """(text, [ImageRef]) of a message's content."""
    content = message.get('content')
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        raise _bad(f'{where}.content must be a string or an array of content parts',
                   f'{where}.content', 'invalid_type')
    texts, images = [], []
    for j, part in enumerate(content):
        at = f'{where}.content[{j}]'
        kind = part.get('type') if isinstance(part, dict) else None
        if kind == 'text':
            if not isinstance(part.get('text'), str):
                raise _bad(f'{at}.text must be a string', f'{at}.text', 'invalid_type')
            texts.append(part['text'])
        elif kind == 'image_url':
            spec = part.get('image_url')
            url = spec.get('url') if isinstance(spec, dict) else spec
            if not isinstance(url, str):
                raise _bad(f'{at}.image_url.url must be a string', f'{at}.image_url',
                           'invalid_type')
            images.append(ImageRef(url, f'{at}.image_url'))
        else:
            raise _bad(f'{at}: content part type {kind!r} is not supported (text, '
                       'image_url)', f'{at}.type', 'unsupported_content')
    return '\n'.join(texts), images


def _turns(messages: list, settings: ServingSettings) -> list:
    turns, context, n_images = [], [], 0
    for i, message in enumerate(messages):
        where = f'messages[{i}]'
        if not isinstance(message, dict):
            raise _bad(f'{where} must be an object with role and content', where,
                       'invalid_type')
        role = message.get('role')
        if role in ('system', 'developer'):
            text, images = _content(message, where)
            if images:
                raise _bad(f'{where}: a {role} message cannot hold images', where)
            if settings.system_messages == 'reject':
                raise _bad(f'{where}: {role} messages are not accepted by this server (the '
                           "model's system line is fixed by its template)",
                           f'{where}.role', 'unsupported_role')
            if settings.system_messages == 'input' and text.strip():
                context.append(text)
        elif role == 'user':
            text, images = _content(message, where)
            n_images += len(images)
            if n_images > settings.image_limits.max_images:
                raise _bad(f'too many images: at most {settings.image_limits.max_images} '
                           'per request', where, 'too_many_images')
            turn = turns[-1] if turns and turns[-1]['response'] is None else None
            if turn is None:
                turn = dict(instruction=text, input='\n'.join(context), response=None,
                            image=None)
                turns.append(turn)
                context = []
            elif text:
                turn['instruction'] = '\n'.join(t for t in (turn['instruction'], text) if t)
            if len(images) + (turn['image'] is not None) > 1:
                raise _bad(f'{where}: at most one image per user turn (the template binds '
                           'one image to a turn; send the next image with the next '
                           'question)', where, 'too_many_images')
            if images:
                turn['image'] = images[0]
        elif role == 'assistant':
            if message.get('content') is None:
                raise _bad(f'{where}: an assistant message needs content (tool calls are '
                           'not supported)', f'{where}.content')
            text, images = _content(message, where)
            if images:
                raise _bad(f'{where}: an assistant message cannot hold images', where)
            if not turns or turns[-1]['response'] is not None:
                raise _bad(f'{where}: an assistant message must follow a user message',
                           f'{where}.role', 'invalid_order')
            turns[-1]['response'] = text
        else:
            raise _bad(f'{where}.role must be system, user or assistant, got {role!r:.40}',
                       f'{where}.role', 'unsupported_role')
    if not turns or turns[-1]['response'] is not None or context:
        raise _bad('the last message must be a user message (the question to answer)',
                   'messages', 'invalid_order')
    if not turns[-1]['instruction'].strip():
        raise _bad('the last user message has no text (the question to answer)',
                   f'messages[{len(messages) - 1}]', 'empty_question')
    return turns


def parse_chat_request(body, settings: ServingSettings) -> ChatRequest:
    """Validate a chat-completions request body.

    Args:
        body: The decoded JSON body.
        settings (ServingSettings): What the server accepts.

    Returns:
        ChatRequest: The validated request (images not loaded yet).

    Raises:
        APIError: 400 for a malformed request, 404 for an unknown model.
    """
    if not isinstance(body, dict):
        raise _bad('the request body must be a JSON object', None, 'invalid_type')
    unknown = sorted(set(body) - KNOWN_FIELDS)
    if unknown:
        raise _bad(f'Unrecognized request argument supplied: {", ".join(unknown)}',
                   unknown[0], 'unknown_parameter')
    for name, (check, expected) in _FIELD_TYPES.items():
        _typed(body, name, check, expected)
    if body.get('model') is None:
        raise _bad('model is required', 'model', 'missing_required_parameter')
    if body['model'] != settings.model_name:
        raise APIError(404, f'The model {body["model"]!r:.80} does not exist; this server '
                       f'serves {settings.model_name!r}', 'model', 'model_not_found')
    messages = body.get('messages')
    if not messages:
        raise _bad('messages must be a non-empty array', 'messages',
                   'missing_required_parameter')
    if len(messages) > settings.max_messages:
        raise _bad(f'too many messages: at most {settings.max_messages}', 'messages')
    _check_unsupported(body)
    options = _options(body, settings)
    turns = _turns(messages, settings)
    stream_options = body.get('stream_options') or {}
    if stream_options and not body.get('stream'):
        raise _bad('stream_options is only allowed with stream=true', 'stream_options',
                   'invalid_value')
    last = turns.pop()
    return ChatRequest(history=turns, question=last['instruction'], context=last['input'],
                       image=last['image'], options=options, stream=bool(body.get('stream')),
                       include_usage=bool(stream_options.get('include_usage')))


def completion(request_id: str, model: str, answer: str, usage: dict,
               created: int | None = None) -> dict:
    """A ``chat.completion`` object."""
    return {
        'id': request_id, 'object': 'chat.completion', 'created': created or int(time.time()),
        'model': model, 'system_fingerprint': None,
        'choices': [{'index': 0, 'message': {'role': 'assistant', 'content': answer},
                     'logprobs': None, 'finish_reason': usage['finish_reason']}],
        'usage': _usage(usage)}


def chunk(request_id: str, model: str, created: int, delta: dict | None = None,
          finish_reason: str | None = None, usage: dict | None = None) -> dict:
    """A ``chat.completion.chunk`` object (``usage`` set: the final usage chunk)."""
    out = {'id': request_id, 'object': 'chat.completion.chunk', 'created': created,
           'model': model, 'system_fingerprint': None, 'choices': []}
    if usage is not None:
        out['usage'] = _usage(usage)
    else:
        out['choices'] = [{'index': 0, 'delta': delta or {}, 'logprobs': None,
                           'finish_reason': finish_reason}]
    return out


def _usage(usage: dict) -> dict:
    return {'prompt_tokens': usage['prompt_tokens'],
            'completion_tokens': usage['completion_tokens'],
            'total_tokens': usage['prompt_tokens'] + usage['completion_tokens']}


def new_request_id() -> str:
    """``chatcmpl-<hex>``."""
    return f'chatcmpl-{uuid.uuid4().hex}'
