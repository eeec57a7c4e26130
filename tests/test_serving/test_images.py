"""Images from clients: limits checked before decoding, errors that say what is wrong."""
import io
import os

import pytest
from PIL import Image
from serving_fixtures import data_url, png_bytes

from mmgpt.serving import (
    ImageLimits,
    ImageRejected,
    decode_data_url,
    load_untrusted_image,
    resolve_local_image,
)


def _encode(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_a_good_image_is_decoded_to_rgb():
    rgba = Image.new('RGBA', (20, 10), (255, 0, 0, 0))  # transparent -> white
    img = load_untrusted_image(_encode(rgba, 'PNG'))
    assert img.mode == 'RGB' and img.size == (20, 10) and img.getpixel((0, 0)) == (255,) * 3
    jpeg = load_untrusted_image(_encode(Image.new('RGB', (8, 8), 'blue'), 'JPEG'))
    assert jpeg.size == (8, 8)


@pytest.mark.parametrize('data,limits,code,message', [
    (png_bytes('red', (64, 64)), ImageLimits(max_bytes=100), 'image_too_large',
     'more than the limit of 100 bytes'),
    (png_bytes('red', (64, 64)), ImageLimits(max_pixels=1000), 'image_too_large',
     '64x64 pixels is more than the limit of 1000'),
    (_encode(Image.new('RGB', (8, 8)), 'TIFF'), ImageLimits(), 'unsupported_image',
     'format TIFF is not allowed'),
    (b'<svg xmlns="http://www.w3.org/2000/svg"/>', ImageLimits(), 'invalid_image',
     'not a readable image'),
    (b'', ImageLimits(), 'invalid_image', 'empty'),
    (png_bytes('red', (64, 64))[:60], ImageLimits(), 'invalid_image', 'cannot decode'),
])
def test_bad_images_are_rejected_before_or_while_decoding(data, limits, code, message):
    with pytest.raises(ImageRejected, match=message) as err:
        load_untrusted_image(data, limits, name='upload.png')
    assert err.value.code == code and 'upload.png' in str(err.value)


def test_a_decompression_bomb_header_is_refused_without_decoding():
    # a 20000 x 20000 PNG that compresses to a few hundred kB: refused from its header
    bomb = _encode(Image.new('1', (20000, 20000)), 'PNG')
    assert len(bomb) < 2 * 1024 * 1024
    with pytest.raises(ImageRejected, match='pixels') as err:
        load_untrusted_image(bomb)
    assert err.value.code == 'image_too_large'


def test_files_are_checked_by_size_first(tmp_path):
    path = tmp_path / 'big.png'
    path.write_bytes(png_bytes('red', (64, 64)))
    with pytest.raises(ImageRejected, match='big.png: .* bytes is more than'):
        load_untrusted_image(str(path), ImageLimits(max_bytes=50))
    assert load_untrusted_image(str(path)).size == (64, 64)


def test_data_urls():
    assert decode_data_url(data_url(b'abc')) == b'abc'
    for bad, match in [('data:image/png,abc', 'base64'), ('data:text/plain;base64,YWJj',
                                                            'not an image'),
                       ('data:image/png;base64,@@@', 'invalid base64')]:
        with pytest.raises(ImageRejected, match=match):
            decode_data_url(bad)
    with pytest.raises(ImageRejected, match='more than the limit') as err:
        decode_data_url(data_url(b'x' * 3000), ImageLimits(max_bytes=1000))
    assert err.value.code == 'image_too_large'


def test_local_paths_only_under_the_allowed_directory(tmp_path):
    allowed = tmp_path / 'images'
    allowed.mkdir()
    (allowed / 'a.png').write_bytes(png_bytes('red'))
    (tmp_path / 'secret.png').write_bytes(png_bytes('blue'))
    os.symlink(tmp_path / 'secret.png', allowed / 'link.png')
    assert resolve_local_image('a.png', str(allowed)) == str((allowed / 'a.png').resolve())
    assert resolve_local_image(f'file://{allowed}/a.png', str(allowed)).endswith('a.png')
    for ref in ('../secret.png', str(tmp_path / 'secret.png'), 'link.png',
                'file:///etc/passwd'):
        with pytest.raises(ImageRejected, match='outside the allowed') as err:
            resolve_local_image(ref, str(allowed))
        assert err.value.code == 'image_path_not_allowed'
    with pytest.raises(ImageRejected, match='not allowed by this server'):
        resolve_local_image('a.png', None)
    with pytest.raises(ImageRejected, match='does not exist'):
        resolve_local_image('missing.png', str(allowed))


def test_large_images_are_downscaled_after_decoding():
    img = load_untrusted_image(png_bytes('red', (1200, 300)), ImageLimits(max_side=600))
    assert img.size == (600, 150)
