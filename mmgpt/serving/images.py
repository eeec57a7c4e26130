"""Images from untrusted clients: size, type and pixel limits checked before decoding.

Every image a web visitor uploads or an API client sends goes through
:func:`load_untrusted_image`: the bytes are counted, the header is read to learn the
format and the pixel count (nothing is decoded yet), and only then is the image decoded
by :func:`mmgpt.utils.image.read_rgb_image`, the project's one image reader. A file
that is too large, of a format not allowed, with more pixels than allowed (a
decompression bomb), truncated or not an image raises :class:`ImageRejected` with a
message a user can act on.
"""
from __future__ import annotations

import base64
import binascii
import io
import os
import re
import tempfile
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from mmgpt.utils.image import read_rgb_image

__all__ = ['ImageLimits', 'ImageRejected', 'load_untrusted_image', 'decode_data_url',
           'resolve_local_image']


class ImageRejected(ValueError):
    """An image from a client was refused (too large, wrong type, undecodable...).

    Args:
        message (str): What is wrong, for the client.
        code (str): A short machine-readable reason, e.g. ``'image_too_large'``.
    """

    def __init__(self, message: str, code: str = 'invalid_image'):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ImageLimits:
    """Limits on images from clients.

    Args:
        max_bytes (int): Largest encoded image, in bytes. Defaults to 10 MiB.
        max_pixels (int): Largest width x height (decompression-bomb guard).
            Defaults to 4096 x 4096.
        formats (tuple[str]): PIL format names allowed. Defaults to PNG, JPEG, WEBP,
            GIF and BMP.
        max_images (int): Most images in one conversation or request. Defaults to 4.
        max_side (int): A decoded image larger than this on a side is downscaled to it
            (aspect kept), so a conversation holds megabytes, not hundreds; the vision
            tower sees far fewer pixels anyway (224 for ViT-L/14). Defaults to 1024.
    """

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 4096 * 4096
    formats: tuple = ('PNG', 'JPEG', 'WEBP', 'GIF', 'BMP')
    max_images: int = 4
    max_side: int = 1024

    @property
    def extensions(self) -> list:
        """File name extensions of the allowed formats (for upload widgets)."""
        ext = {'PNG': ['.png'], 'JPEG': ['.jpg', '.jpeg'], 'WEBP': ['.webp'],
               'GIF': ['.gif'], 'BMP': ['.bmp']}
        return [e for f in self.formats for e in ext.get(f, [])]

    @staticmethod
    def add_arguments(parser, what: str = 'request') -> None:
        """``--max-images``, ``--max-image-mb`` and ``--max-image-pixels`` of a tool.

        Args:
            parser (argparse.ArgumentParser): The tool's parser.
            what (str): What ``--max-images`` counts per. Defaults to ``'request'``.
        """
        default = ImageLimits()
        parser.add_argument('--max-images', type=int, default=default.max_images,
                            help=f'per {what} (default: {default.max_images})')
        parser.add_argument('--max-image-mb', type=float,
                            default=default.max_bytes / 2**20,
                            help=f'largest encoded image (default: '
                            f'{default.max_bytes / 2**20:g} MB)')
        parser.add_argument('--max-image-pixels', type=int, default=default.max_pixels,
                            help=f'largest width x height (default: {default.max_pixels})')

    @classmethod
    def from_args(cls, args) -> ImageLimits:
        """The limits a command line set with :meth:`add_arguments`."""
        return cls(max_bytes=int(args.max_image_mb * 2**20),
                   max_pixels=args.max_image_pixels, max_images=args.max_images)


def _check_header(data: bytes, limits: ImageLimits, name: str) -> None:
    """Format and pixel count from the header only (no pixel data is decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('error', Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt, (width, height) = img.format, img.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageRejected(f'{name}: too many pixels ({err})', 'image_too_large') from err
    except UnidentifiedImageError as err:
        raise ImageRejected(f'{name}: not a readable image (unknown format)',
                            'invalid_image') from err
    except (OSError, ValueError, SyntaxError) as err:
        raise ImageRejected(f'{name}: not a readable image ({err})', 'invalid_image') from err
    if fmt not in limits.formats:
        raise ImageRejected(f'{name}: image format {fmt} is not allowed '
                            f'(allowed: {", ".join(limits.formats)})', 'unsupported_image')
    if width * height > limits.max_pixels:
        raise ImageRejected(f'{name}: {width}x{height} pixels is more than the limit of '
                            f'{limits.max_pixels} pixels', 'image_too_large')


def load_untrusted_image(source: bytes | str, limits: ImageLimits = ImageLimits(),
                         name: str | None = None) -> Image.Image:
    """Check and decode an image from a client.

    Args:
        source (bytes | str): The encoded image, or the path of a file holding it.
        limits (ImageLimits): The limits. Defaults to :class:`ImageLimits` ().
        name (str, optional): How to name the image in errors. Defaults to the path,
            or ``'image'``.

    Returns:
        PIL.Image.Image: The decoded, upright RGB image (at most ``limits.max_side``
        pixels on a side).

    Raises:
        ImageRejected: Too large, too many pixels, format not allowed, or undecodable.
    """
    if isinstance(source, str):
        name = name or os.path.basename(source)
        try:
            size = os.path.getsize(source)
            if size > limits.max_bytes:
                raise ImageRejected(f'{name}: {size} bytes is more than the limit of '
                                    f'{limits.max_bytes} bytes', 'image_too_large')
            with open(source, 'rb') as f:
                data = f.read(limits.max_bytes + 1)
        except OSError as err:
            raise ImageRejected(f'{name}: cannot read the file ({err.strerror})',
                                'invalid_image') from err
    else:
        name, data = name or 'image', bytes(source)
    if len(data) > limits.max_bytes:
        raise ImageRejected(f'{name}: {len(data)} bytes is more than the limit of '
                            f'{limits.max_bytes} bytes', 'image_too_large')
    if not data:
        raise ImageRejected(f'{name}: the image is empty', 'invalid_image')
    _check_header(data, limits, name)
    # decoded by the project's one reader, which reads files: hand it a private copy
    with tempfile.NamedTemporaryFile(suffix='.img') as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            image = read_rgb_image(tmp.name)
        except OSError as err:  # ImageLoadError: truncated, corrupt pixel data
            reason = str(err).split(': ', 1)[-1]
            raise ImageRejected(f'{name}: cannot decode the image ({reason})',
                                'invalid_image') from err
    if max(image.size) > limits.max_side:
        image.thumbnail((limits.max_side, limits.max_side), Image.Resampling.BICUBIC)
    return image


_DATA_URL = re.compile(r'data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[^;,]*)*)'
                       r'(?P<b64>;base64)?,(?P<data>.*)', re.DOTALL)


def decode_data_url(url: str, limits: ImageLimits = ImageLimits()) -> bytes:
    """The bytes of a base64 ``data:image/...`` URL.

    Args:
        url (str): ``data:image/png;base64,...``.
        limits (ImageLimits): Its ``max_bytes`` bounds the decoded size (checked on the
            encoded length first, so an oversized URL is not decoded).

    Raises:
        ImageRejected: Not a base64 image data URL, bad base64, or too large.
    """
    match = _DATA_URL.fullmatch(url)
    if match is None or not match.group('b64'):
        raise ImageRejected('image data URLs must look like data:image/png;base64,<data>',
                            'invalid_image_url')
    if not (match.group('mime') or '').startswith('image/'):
        raise ImageRejected(f'data URL media type {match.group("mime")!r} is not an image',
                            'unsupported_image')
    payload = re.sub(r'\s+', '', match.group('data'))
    if len(payload) * 3 // 4 > limits.max_bytes + 3:
        raise ImageRejected(f'image of about {len(payload) * 3 // 4} bytes is more than the '
                            f'limit of {limits.max_bytes} bytes', 'image_too_large')
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ImageRejected(f'image data URL has invalid base64 ({err})',
                            'invalid_image_url') from err


def resolve_local_image(ref: str, allowed_dir: str | None) -> str:
    """The real path of a local image reference, if it lies under ``allowed_dir``.

    Args:
        ref (str): ``file:///abs/path`` or a path (relative paths are relative to
            ``allowed_dir``).
        allowed_dir (str, optional): The only directory local images may come from;
            None refuses every local path.

    Raises:
        ImageRejected: Local files not allowed, or the path (after resolving ``..``
            and symbolic links) leaves ``allowed_dir``.
    """
    if allowed_dir is None:
        raise ImageRejected('local image paths are not allowed by this server (start it '
                            'with --image-dir DIR to allow files under DIR)',
                            'local_images_disabled')
    path = ref[len('file://'):] if ref.startswith('file://') else ref
    root = os.path.realpath(allowed_dir)
    real = os.path.realpath(os.path.join(root, path))
    if os.path.commonpath([root, real]) != root:
        raise ImageRejected(f'image path {ref!r} is outside the allowed image directory',
                            'image_path_not_allowed')
    if not os.path.isfile(real):
        raise ImageRejected(f'image file {ref!r} does not exist under the allowed image '
                            'directory', 'image_not_found')
    return real
