"""read_rgb_image: one decode, copies only when needed, the same pixels as before."""
import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from mmgpt.utils.image import ImageLoadError, read_rgb_image


def previous_read_rgb_image(path):
    """The previous algorithm (two full copies always), kept here to compare pixels."""
    with Image.open(path) as img:
        img.load()
        img = ImageOps.exif_transpose(img)
        if img.mode == 'P' and 'transparency' in img.info:
            img = img.convert('RGBA')
        if img.mode in ('RGBA', 'LA', 'PA'):
            rgba = img.convert('RGBA')
            background = Image.new('RGBA', rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(background, rgba).convert('RGB')
        return img.convert('RGB')


def _pattern(w=37, h=23):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _images():
    rgb = Image.fromarray(_pattern())
    rgba = Image.fromarray(np.dstack([_pattern(), _pattern()[..., :1]]), 'RGBA')
    p_trans = rgb.convert('P', palette=Image.Palette.ADAPTIVE, colors=16)
    p_trans.info['transparency'] = 3
    yield 'rgb.png', rgb, {}
    yield 'rgb.jpg', rgb, dict(quality=95)
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        yield f'exif{orientation}.jpg', rgb, dict(exif=exif, quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6
    yield 'exif6_gray.jpg', rgb.convert('L'), dict(exif=exif)
    yield 'rgba.png', rgba, {}
    yield 'p.png', rgb.convert('P', palette=Image.Palette.ADAPTIVE, colors=16), {}
    yield 'p_transparent.png', p_trans, {}
    yield 'l.png', rgb.convert('L'), {}
    yield 'la.png', rgba.convert('LA'), {}
    yield 'cmyk.jpg', rgb.convert('CMYK'), dict(quality=95)
    yield 'i16.png', rgb.convert('I;16'), {}


@pytest.mark.parametrize('name,img,kwargs', list(_images()), ids=lambda x: x
                         if isinstance(x, str) else '')
def test_same_pixels_as_the_previous_algorithm(tmp_path, name, img, kwargs):
    path = tmp_path / name
    img.save(path, **kwargs)
    new, old = read_rgb_image(str(path)), previous_read_rgb_image(path)
    assert new.mode == 'RGB' and new.size == old.size
    assert np.array_equal(np.asarray(new), np.asarray(old))


def test_upright_rgb_is_not_copied(tmp_path, monkeypatch):
    """An upright RGB file: no transpose, no convert (the copies the old code made)."""
    path = tmp_path / 'a.jpg'
    Image.fromarray(_pattern()).save(path)
    calls = []
    real_convert, real_copy = Image.Image.convert, Image.Image.copy
    monkeypatch.setattr(Image.Image, 'convert',
                        lambda self, *a, **k: calls.append('convert') or real_convert(
                            self, *a, **k))
    monkeypatch.setattr(Image.Image, 'copy',
                        lambda self: calls.append('copy') or real_copy(self))
    monkeypatch.setattr(Image.Image, 'transpose',
                        lambda self, m: calls.append('transpose'))
    img = read_rgb_image(str(path))
    assert calls == [] and img.mode == 'RGB'
    assert np.asarray(img).shape == (23, 37, 3)


def test_rotation_is_applied_once(tmp_path):
    path = tmp_path / 'r.png'
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise to display
    Image.fromarray(_pattern()).save(path, exif=exif)
    assert read_rgb_image(str(path)).size == (23, 37)


@pytest.mark.parametrize('data', [b'', b'not an image', None])
def test_bad_files_name_the_path(tmp_path, data):
    path = tmp_path / 'bad.jpg'
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(ImageLoadError, match='bad.jpg'):
        read_rgb_image(str(path))


def test_truncated_file_is_an_error(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(_pattern(200, 200)).save(buf, format='JPEG')
    path = tmp_path / 'cut.jpg'
    path.write_bytes(buf.getvalue()[:len(buf.getvalue()) // 2])
    with pytest.raises(ImageLoadError, match='cut.jpg'):
        read_rgb_image(str(path))
