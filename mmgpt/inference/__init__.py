"""Inference: the chat engine shared by tools/chat.py, evaluation and demos."""
from .chat import ChatEngine, ContextLengthError, Conversation, GenerationOptions

__all__ = ['ChatEngine', 'ContextLengthError', 'Conversation', 'GenerationOptions']
