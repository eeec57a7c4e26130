"""Serving the chat engine to people and programs: a web demo and an OpenAI-style API.

Above :mod:`mmgpt.inference` (it imports only the chat engine and the image reader).
:mod:`.images` and :mod:`.openai_protocol` are plain Python; :mod:`.api_server` needs
FastAPI and :mod:`.webui` needs gradio (``requirements/serving.txt``), imported only
when those modules are.
"""
from .images import (
                     ImageLimits,
                     ImageRejected,
                     decode_data_url,
                     load_untrusted_image,
                     resolve_local_image,
)
from .openai_protocol import APIError, ChatRequest, ServingSettings, parse_chat_request

__all__ = ['ImageLimits', 'ImageRejected', 'decode_data_url', 'load_untrusted_image',
           'resolve_local_image', 'APIError', 'ChatRequest', 'ServingSettings',
           'parse_chat_request']
