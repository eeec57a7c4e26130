"""Install mmgpt: ``pip install -e .`` (runtime) or ``pip install -e .[tests]``.

torch/torchvision and open-flamingo are installed by ``tools/setup_env.sh`` from
``requirements/`` because they need exact pins and ``--no-deps`` (see
``requirements/*.txt`` for the reasons).
"""
import re
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent


def read_requirements(name):
    """Return the requirement lines of ``requirements/<name>.txt`` without comments."""
    lines = (ROOT / 'requirements' / f'{name}.txt').read_text().splitlines()
    reqs = [re.sub(r'\s+#.*$', '', line).strip() for line in lines]
    return [r for r in reqs if r and not r.startswith('#')]


def read_version():
    """Read ``__version__`` from ``mmgpt/version.py`` without importing the package."""
    text = (ROOT / 'mmgpt' / 'version.py').read_text()
    return re.search(r"__version__ = '([^']+)'", text).group(1)


setup(
    name='mmgpt',
    version=read_version(),
    description='MultiModal-GPT: LoRA instruction tuning of OpenFlamingo for '
    'vision-and-language dialogue, on MMEngine',
    long_description=(ROOT / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    include_package_data=True,
    package_data={'mmgpt': ['assets/*']},
    install_requires=read_requirements('torch') + read_requirements('runtime'),
    extras_require={
        'tests': read_requirements('tests'),
        'tensorboard': ['tensorboard'],
        'wandb': ['wandb'],
        'deepspeed': ['deepspeed'],
    },
    license='Apache-2.0',
)
