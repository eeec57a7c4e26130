"""Tiny configs and fixture writers shared by the data pipeline tests (no downloads)."""
import json

from mmengine.dataset import BaseDataset
from PIL import Image

from mmgpt.registry import DATASETS

TOKENIZER = dict(type='tiny_bpe')
TINY_VISION = dict(
    name='mmgpt-tiny-vit',
    model_cfg=dict(
        embed_dim=32,
        vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=8, head_width=16),
        text_cfg=dict(context_length=8, vocab_size=16, width=16, heads=1, layers=1)))


def pipeline(max_length=512, template='mmgpt', keep_text=False, on_error='skip'):
    """The standard pipeline with the tiny tower and tokenizer."""
    return [
        dict(type='LoadConversationImage', vision_encoder=TINY_VISION, on_error=on_error),
        dict(type='TokenizeConversation', tokenizer=TOKENIZER, max_length=max_length,
             template=template),
        dict(type='PackInputs', keep_text=keep_text),
    ]


def write_image(path, mode='RGB', size=(24, 16), color=(200, 30, 30)):
    """Write a solid image of ``mode`` and return its path as str."""
    img = Image.new('RGB', size, color)
    if mode != 'RGB':
        img = img.convert(mode)
    fmt = 'JPEG' if mode == 'CMYK' else 'PNG'
    img.save(path, format=fmt)
    return str(path)


def write_json(path, obj):
    """Write ``obj`` as JSON and return the path as str."""
    path.write_text(json.dumps(obj), encoding='utf-8')
    return str(path)


@DATASETS.register_module(force=True)
class ToyConversationDataset(BaseDataset):
    """Conversations given inline (or in a JSON list), for tests.

    Args:
        conversations (list): Conversations (``image``, ``turns``).
        modality (str): ``'vl'`` or ``'lang'``.
    """

    def __init__(self, conversations=(), modality='vl', **kwargs):
        self._conversations = list(conversations)
        self.modality = modality
        kwargs.setdefault('serialize_data', False)
        super().__init__(**kwargs)

    def load_data_list(self):
        """Return the conversations with ``source`` and ``id``."""
        return [dict(c, source=type(self).__name__, id=i)
                for i, c in enumerate(self._conversations)]


def turn(instruction, response, input=''):  # noqa: A002
    """A turn dict."""
    return dict(instruction=instruction, input=input, response=response)
