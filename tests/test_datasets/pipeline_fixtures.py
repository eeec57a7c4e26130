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


USER_MODULE = '''\
"""A user's own dataset, outside mmgpt (docs/custom_dataset.md)."""
from mmgpt.datasets.base import ConversationDataset, get_text, make_turn
from mmgpt.registry import DATASETS


@DATASETS.register_module()
class {name}(ConversationDataset):
    """``[{{"image": "a.png", "question": "...", "answer": "..."}}, ...]``."""

    modality = 'vl'

    def parse(self, record, ref):
        turn = make_turn(get_text(record, 'question'), get_text(record, 'answer'))
        return self.conversation(ref, [turn], image=get_text(record, 'image'))
'''

CONFIG = '''\
custom_imports = dict(imports=['{package}.my_dataset', 'mmgpt.datasets.dolly'],
                      allow_failed_imports=False)
default_scope = 'mmgpt'
randomness = dict(seed=0)
data_root = {root!r}
tokenizer = dict(type='tiny_bpe')
vision_encoder = {vision!r}
train_pipeline = [
    dict(type='LoadConversationImage', vision_encoder=vision_encoder),
    dict(type='TokenizeConversation', tokenizer=tokenizer, max_length=256),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='JointSampler', vl_per_iter=1, lang_per_iter=1),
    collate_fn=dict(type='mmgpt_collate', pad_token_id=514),
    dataset=dict(
        type='JointDataset', pipeline=train_pipeline,
        vl=[dict(type={name!r}, ann_file='qa.json', data_root=data_root,
                 img_prefix='images')],
        lang=[dict(type='DollyDataset', ann_file='dolly.jsonl', data_root=data_root)]))
'''

QA = [dict(image='red.png', question='What colour is the box?', answer='It is red.'),
      dict(image='blue.jpg', question='And this one?', answer='Blue.\nA blue box.')]
DOLLY = [dict(instruction='Name a shape.', context='', response='A circle.'),
         dict(instruction='Add them.', context='1 and 2', response='3')]


def write_project(tmp_path, package='my_project', name='MyQADataset'):
    """Write a user package, annotations, images and a config; return the config path."""
    pkg = tmp_path / package
    pkg.mkdir()
    (pkg / '__init__.py').write_text('')
    (pkg / 'my_dataset.py').write_text(USER_MODULE.format(name=name))
    data = tmp_path / 'data'
    (data / 'images').mkdir(parents=True)
    write_image(data / 'images' / 'red.png', color=(220, 20, 20))
    Image.new('RGB', (20, 30), (20, 20, 220)).save(data / 'images' / 'blue.jpg')
    write_json(data / 'qa.json', QA)
    (data / 'dolly.jsonl').write_text('\n'.join(json.dumps(r) for r in DOLLY) + '\n')
    config = tmp_path / 'my_config.py'
    config.write_text(CONFIG.format(package=package, root=str(data), vision=TINY_VISION,
                                    name=name))
    return str(config)
