"""Comments and docs name only files and modules that exist.

Scans the package, the tools, the configs, the docs, the tests, the requirements and the
README for repository paths (``mmgpt/...``, ``tools/...``, ``configs/...``,
``tests/...``, ``docs/...``, ``requirements/...``) and dotted module references
(``mmgpt.<module>``), and checks that each exists. A renamed file or test then fails here
instead of leaving a stale pointer behind.
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCANNED = ['mmgpt', 'tools', 'configs', 'docs', 'tests', 'requirements']
SUFFIXES = {'.py', '.md', '.sh', '.txt', '.toml'}
PATH = re.compile(r'(?<![\w./<{-])((?:mmgpt|tools|configs|tests|docs|requirements)/'
                  r'[A-Za-z0-9_./-]*[A-Za-z0-9_])(?![\w<>{*])')
DOTTED = re.compile(r'(?<![\w./-])(mmgpt(?:\.[A-Za-z_][A-Za-z0-9_]*)+)')
#: Paths of OTHER repositories that docs cite on purpose (where the original release did
#: something), not files of this one.
EXTERNAL = {'mmgpt/models/open_flamingo/builder.py'}  # open-mmlab/Multimodal-GPT's builder
#: Dotted names that are not modules: registry-scoped config types.
NOT_MODULES = {'mmgpt.mmgpt_collate'}
#: Packages named ahead of their arrival (a registry location and the layer table):
#: mmgpt.evaluation is the evaluation layer that issue 9 adds.
ANNOUNCED = {'mmgpt.evaluation'}


def _files():
    for folder in SCANNED:
        for path in sorted((REPO / folder).rglob('*')):
            if path.suffix in SUFFIXES and path.is_file() and 'fixtures' not in path.parts:
                yield path
    yield REPO / 'README.md'
    yield REPO / 'pyproject.toml'


def _mentions(pattern):
    for path in _files():
        for number, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
            for match in pattern.finditer(line):
                yield f'{path.relative_to(REPO)}:{number}', match.group(1).rstrip('.')


def _resolves(name: str) -> bool:
    parts = name.split('.')
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module('.'.join(parts[:k]))
        except ImportError:
            continue
        for attr in parts[k:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_named_paths_exist():
    missing = [f'{where}: {path}' for where, path in _mentions(PATH)
               if not (REPO / path).exists() and path not in EXTERNAL]
    assert not missing, 'paths named in comments/docs that do not exist:\n' + '\n'.join(missing)


def test_the_path_scan_finds_paths():
    found = {path for _, path in _mentions(PATH)}
    assert {'tools/train.py', 'configs/mmgpt_joint.py', 'docs/install.md'} <= found


def test_named_modules_exist():
    cache: dict[str, bool] = {}
    missing = []
    for where, name in _mentions(DOTTED):
        if name in NOT_MODULES or any(name == a or name.startswith(a + '.') for a in ANNOUNCED):
            continue
        if name not in cache:
            cache[name] = _resolves(name)
        if not cache[name]:
            missing.append(f'{where}: {name}')
    assert not missing, 'modules/names in comments/docs that do not exist:\n' + '\n'.join(
        missing)
