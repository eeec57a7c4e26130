"""Transforms: image loading (modes, EXIF, broken files), tokenization, packing."""
import pytest
import torch
from PIL import Image
from pipeline_fixtures import TINY_VISION, TOKENIZER, pipeline, turn, write_image

from mmgpt.datasets import JointDataset
from mmgpt.datasets.transforms import (
    ImageLoadError,
    LoadConversationImage,
    PackInputs,
    TokenizeConversation,
    data_stats,
    reset_data_stats,
    truncate_at_turn,
)
from mmgpt.registry import TRANSFORMS
from mmgpt.templates import IGNORE_INDEX, encode_segments, render
from mmgpt.tokenizer import build_tokenizer
from mmgpt.utils.image import build_image_transform


@pytest.fixture(autouse=True)
def _fresh_counts():
    reset_data_stats()
    yield
    reset_data_stats()


@pytest.fixture(scope='module')
def loader():
    return LoadConversationImage(vision_encoder=TINY_VISION)


@pytest.fixture(scope='module')
def tokenizer():
    return build_tokenizer(TOKENIZER)


@pytest.fixture(scope='module')
def to_tensor():
    return build_image_transform(TINY_VISION)


def load(loader, path):
    return loader(dict(image=path, turns=[turn('q', 'a')], id=0, source='T'))


def test_registered():
    for name in ('LoadConversationImage', 'TokenizeConversation', 'PackInputs'):
        assert TRANSFORMS.get(name) is not None


@pytest.mark.parametrize('mode', ['RGB', 'L', 'RGBA', 'P', 'CMYK', 'I;16', 'LA', '1'])
def test_image_modes(loader, tmp_path, mode):
    out = load(loader, write_image(tmp_path / f'img_{mode.replace(";", "")}', mode))
    assert out['image'].shape == (3, 32, 32)
    assert out['image'].dtype == torch.float32
    assert out['ori_shape'] == (16, 24)
    assert torch.isfinite(out['image']).all()


def test_grey_image_has_equal_channels(loader, tmp_path):
    out = load(loader, write_image(tmp_path / 'g.png', 'L'))
    img = out['image']
    # Different per-channel normalisation, but the same raw value in every channel.
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073])[:, None, None]
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711])[:, None, None]
    raw = img * std + mean
    assert torch.allclose(raw[0], raw[1], atol=1e-5) and torch.allclose(raw[1], raw[2], atol=1e-5)


def test_transparent_pixels_become_white(loader, to_tensor, tmp_path):
    path = tmp_path / 'clear.png'
    Image.new('RGBA', (20, 20), (0, 0, 0, 0)).save(path)
    white = to_tensor(Image.new('RGB', (20, 20), (255, 255, 255)))
    assert torch.allclose(load(loader, str(path))['image'], white, atol=1e-5)


def test_exif_orientation_is_applied(loader, to_tensor, tmp_path):
    img = Image.new('RGB', (40, 20), (255, 0, 0))
    img.paste((0, 0, 255), (20, 0, 40, 20))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / 'rot.jpg'
    img.save(path, exif=exif, quality=100)
    out = load(loader, str(path))
    assert out['ori_shape'] == (40, 20)
    upright = to_tensor(Image.open(path).convert('RGB').transpose(Image.Transpose.ROTATE_270))
    assert torch.allclose(out['image'], upright, atol=1e-5)
    # Not the stored (sideways) pixels.
    assert not torch.allclose(out['image'], to_tensor(Image.open(path).convert('RGB')),
                              atol=1e-2)


def broken_files(tmp_path):
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    good = tmp_path / 'good.jpg'
    Image.new('RGB', (64, 64), (10, 200, 10)).save(good, quality=95)
    truncated = tmp_path / 'truncated.jpg'
    truncated.write_bytes(good.read_bytes()[:200])
    garbage = tmp_path / 'garbage.png'
    garbage.write_bytes(b'not an image at all')
    return [str(tmp_path / 'missing.jpg'), str(empty), str(truncated), str(garbage)]


def test_broken_images_are_skipped_and_counted(loader, tmp_path):
    paths = broken_files(tmp_path)
    for path in paths:
        assert load(loader, path) is None
    assert data_stats()['image_skipped'] == len(paths)


def test_broken_images_raise_with_path(tmp_path):
    strict = LoadConversationImage(vision_encoder=TINY_VISION, on_error='raise')
    for path in broken_files(tmp_path):
        with pytest.raises(ImageLoadError, match=path.split('/')[-1]):
            load(strict, path)
    assert data_stats().get('image_skipped', 0) == 0


def test_language_only_passes_through(loader):
    results = dict(image=None, turns=[turn('q', 'a')])
    assert loader(dict(results)) == results


def test_skipped_image_is_replaced_by_same_modality(tmp_path):
    good = write_image(tmp_path / 'good.png')
    vl = [dict(image=good, turns=[turn('What?', 'A red box.')]),
          dict(image=str(tmp_path / 'missing.png'), turns=[turn('What?', 'Gone.')])]
    lang = [dict(image=None, turns=[turn('Say hi.', 'Hi.')])]
    joint = JointDataset(
        vl=[dict(type='ToyConversationDataset', conversations=vl, modality='vl')],
        lang=[dict(type='ToyConversationDataset', conversations=lang, modality='lang')],
        pipeline=pipeline())
    for _ in range(5):
        sample = joint[1]  # the missing image
        assert sample['modality'] == 'vl' and sample['image'].shape == (3, 32, 32)
    assert data_stats()['image_skipped'] >= 5  # the random refetch may hit it again


def test_tokenize_masks_everything_but_responses(tokenizer):
    conv = dict(image=None, turns=[turn('Hi.', 'Hello.'), turn('Bye.', 'Goodbye.')],
                id=3, source='T')
    out = TokenizeConversation(TOKENIZER)(dict(conv))
    ids, labels = out['input_ids'], out['labels']
    assert ids.count(tokenizer.bos_token_id) == 1 and ids[0] == tokenizer.bos_token_id
    sup = [i for i, label in zip(ids, labels) if label != IGNORE_INDEX]
    assert tokenizer.decode(sup) == 'Hello.</s>Goodbye.</s>'
    assert out['num_turns'] == 2 and out['text'].startswith('<BOS>Below')


def test_media_token_id(tokenizer):
    out = TokenizeConversation(TOKENIZER)(dict(image='x.png', turns=[turn('q', 'a')]))
    assert out['input_ids'].count(tokenizer.convert_tokens_to_ids('<image>')) == 1


def three_turns():
    return dict(image='x.png', turns=[turn('First?', 'One.'), turn('Second?', 'Two.'),
                                      turn('Third?', 'Three.')], id='c3', source='T')


def test_truncation_at_turn_boundary(tokenizer):
    conv = three_turns()
    full_ids, full_labels, turns = encode_segments(render(conv), tokenizer, with_turns=True)
    end_of_second = turns.index(2)
    for max_length in (end_of_second, len(full_ids) - 1):
        out = TokenizeConversation(TOKENIZER, max_length=max_length)(three_turns())
        assert out['input_ids'] == full_ids[:end_of_second]
        assert out['labels'] == full_labels[:end_of_second]
        assert out['input_ids'][-1] == tokenizer.eos_token_id  # the response is whole
        assert out['num_turns'] == 2 and 'Three' not in out['text']
    assert data_stats()['truncated'] == 2
    full = TokenizeConversation(TOKENIZER, max_length=len(full_ids))(three_turns())
    assert full['input_ids'] == full_ids and full['num_turns'] == 3


def test_first_turn_too_long_keeps_supervised_prefix(tokenizer):
    conv = dict(image=None, turns=[turn('Write.', 'word ' * 50)], id=1, source='T')
    full_ids, full_labels = encode_segments(render(conv), tokenizer)
    prompt_len = full_labels.index(next(x for x in full_labels if x != IGNORE_INDEX))
    out = TokenizeConversation(TOKENIZER, max_length=prompt_len + 3)(dict(conv))
    assert out['input_ids'] == full_ids[:prompt_len + 3]
    assert sum(label != IGNORE_INDEX for label in out['labels']) == 3
    assert tokenizer.eos_token_id not in out['input_ids']
    assert data_stats() == {'truncated': 1}


def test_no_supervised_token_left_is_dropped_and_counted(tokenizer):
    conv = dict(image=None, turns=[turn('Write.', 'ok')], id=1, source='T')
    _, full_labels = encode_segments(render(conv), tokenizer)
    prompt_len = full_labels.index(next(x for x in full_labels if x != IGNORE_INDEX))
    assert TokenizeConversation(TOKENIZER, max_length=prompt_len)(dict(conv)) is None
    assert data_stats()['no_supervised_tokens'] == 1


def test_truncate_at_turn_unit():
    ids = list(range(10))
    turns = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
    labels = [-100, 1, 2, -100, 4, 5, -100, 7, 8, 9]
    assert truncate_at_turn(ids, labels, turns, 10) == (ids, labels, 3)
    assert truncate_at_turn(ids, labels, turns, 8) == (ids[:6], labels[:6], 2)
    assert truncate_at_turn(ids, labels, turns, 5) == (ids[:3], labels[:3], 1)
    assert truncate_at_turn(ids, labels, turns, 2) == (ids[:2], labels[:2], 1)


def test_pack_inputs(tmp_path):
    img = torch.zeros(3, 32, 32)
    packed = PackInputs(keep_text=True)(dict(
        image=img, input_ids=[1, 2, 3], labels=[-100, 2, 3], source='Toy', text='t',
        turns=[], id=0))
    assert packed['input_ids'].dtype == torch.long and packed['labels'].tolist() == [-100, 2, 3]
    assert packed['modality'] == 'vl' and packed['dataset'] == 'Toy'
    assert packed['image'] is img and packed['text'] == 't'
    lang = PackInputs()(dict(image=None, input_ids=[1], labels=[1]))
    assert lang['modality'] == 'lang' and 'image' not in lang and 'text' not in lang
    with pytest.raises(TypeError, match='LoadConversationImage'):
        PackInputs()(dict(image='a.png', input_ids=[1], labels=[1]))
