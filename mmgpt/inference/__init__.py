"""Inference: the chat engine shared by tools/chat.py, evaluation and demos."""
from .chat import ChatEngine, Conversation, GenerationOptions

__all__ = ['ChatEngine', 'Conversation', 'GenerationOptions']
