"""Helpers of the serving tests: a tiny engine whose answers depend on the image, an
in-process HTTP server, headless Chromium, and the trained demo as a server config."""
import base64
import io
import os
import shutil
import socket
import tempfile
import threading
import time

import pytest
from PIL import Image

from mmgpt.inference import ChatEngine
from mmgpt.testing import (
    image_sensitive_tiny,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_CONFIG = os.path.join(REPO, 'configs', 'demo', 'stage2_mmgpt_lora.py')
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
CHROMEDRIVER = shutil.which('chromedriver') or '/usr/bin/chromedriver'
#: The colours of the test images; the tiny engine answers differently for most of them.
COLOURS = ['red', 'blue', 'green', 'yellow', 'white', 'black', 'purple', 'orange']


@pytest.fixture(scope='session')
def tiny_engine():
    """A tiny random engine with open gates: its greedy answers depend on the image."""
    return ChatEngine(image_sensitive_tiny())  # the tower's own preprocessing


def png_bytes(colour: str, size=(40, 40)) -> bytes:
    """A one-colour PNG."""
    buf = io.BytesIO()
    Image.new('RGB', size, colour).save(buf, format='PNG')
    return buf.getvalue()


def data_url(data: bytes, mime: str = 'image/png') -> str:
    """A base64 data URL."""
    return f'data:{mime};base64,{base64.b64encode(data).decode()}'


def free_port() -> int:
    """A free TCP port on localhost."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class ServerThread:
    """A uvicorn server for an ASGI app in a thread of this process."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host='127.0.0.1', port=self.port,
                                                    log_level='warning'))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.port}'

    def __enter__(self):
        self.thread.start()
        end = time.time() + 30
        while not self.server.started:
            if time.time() > end or not self.thread.is_alive():
                raise RuntimeError('the test server did not start')
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


def wait_for_http(url: str, proc=None, timeout: float = 180) -> None:
    """Wait until ``url`` answers (any status); fail early if ``proc`` died."""
    import httpx

    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f'the server exited with {proc.returncode}')
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError(f'{url} did not answer within {timeout} s')


def demo_cfg_options(work_dir: str) -> list:
    """``--cfg-options`` that point the demo's stage-2 config at a demo work dir."""
    return ['--cfg-options',
            f'model.pretrained={work_dir}/stage1/openflamingo_tiny.safetensors',
            f'model.vision_encoder.pretrained={work_dir}/stage0/clip_tiny.safetensors']


def demo_engine(work_dir: str) -> ChatEngine:
    """The trained demo model (stage 2 LoRA) as a chat engine."""
    from mmengine import Config

    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.model.pretrained = f'{work_dir}/stage1/openflamingo_tiny.safetensors'
    cfg.model.vision_encoder.pretrained = f'{work_dir}/stage0/clip_tiny.safetensors'
    return ChatEngine.from_config(cfg, f'{work_dir}/stage2/mmgpt_lora.safetensors')


def chromium_or_skip():
    """Skip (saying why) where headless Chromium cannot run; else its paths."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip('selenium is not installed (requirements/serving.txt)')
    for path, package in ((CHROMIUM, 'chromium'), (CHROMEDRIVER, 'chromium-driver')):
        if not os.access(path, os.X_OK):
            pytest.skip(f'{path} is missing: install the distribution package {package} '
                        '(tools/setup_env.sh does where it runs as root with apt)')


@pytest.fixture
def browser():
    """A factory of headless Chromium sessions, each with a fresh profile (closed after)."""
    chromium_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers, dirs = [], []

    def start(width: int = 1400, height: int = 1000):
        profile = tempfile.mkdtemp(prefix='mmgpt-chromium-')
        dirs.append(profile)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for flag in ('--headless', '--no-sandbox', '--disable-gpu',
                     '--disable-background-networking', '--disable-component-update',
                     '--disable-sync', '--no-first-run', '--disable-dev-shm-usage',
                     f'--window-size={width},{height}', f'--user-data-dir={profile}'):
            opts.add_argument(flag)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        driver.quit()
    for profile in dirs:
        shutil.rmtree(profile, ignore_errors=True)
