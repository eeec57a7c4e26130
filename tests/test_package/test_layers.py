"""The package's layers: no import points up the layer order, none hides in a function.

Bottom to top (docs/architecture.md): ``mmgpt.registry``, ``mmgpt.utils``, ``mmgpt.tokenizer``
-> ``mmgpt.templates`` -> ``mmgpt.datasets`` -> ``mmgpt.models`` -> ``mmgpt.inference`` ->
``mmgpt.evaluation`` -> ``mmgpt.engine`` -> ``mmgpt.demo``; ``tools/`` sits on top. Each
module may import only from its own layer or below. A function-local import of an mmgpt
module is refused as well: it is the usual way a cycle is hidden (lazy imports of heavy
third-party packages are fine).
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / 'mmgpt'

#: Layer of each top-level part of the package (0 = bottom).
LAYERS = {
    'mmgpt.registry': 0, 'mmgpt.utils': 0, 'mmgpt.tokenizer': 0, 'mmgpt.version': 0,
    'mmgpt.assets': 0,
    'mmgpt.templates': 1,
    'mmgpt.datasets': 2,
    'mmgpt.models': 3,
    'mmgpt.testing': 3,  # builds the tiny model: the models layer
    'mmgpt.inference': 4,
    'mmgpt.evaluation': 5,
    'mmgpt.engine': 6,
    'mmgpt.serving': 7,  # the web demo and the API, over the chat engine
    'mmgpt.demo': 7,
    'mmgpt': 8,  # the package's __init__ may name anything (it names nothing heavy)
}


def layer_of(module: str) -> tuple[str, int]:
    """The layer of a dotted module name inside mmgpt."""
    parts = module.split('.')
    key = '.'.join(parts[:2]) if len(parts) > 1 else 'mmgpt'
    if key not in LAYERS:
        raise AssertionError(f'{module}: no layer declared for {key} in LAYERS; add it '
                             '(tests/test_package/test_layers.py) in the right place')
    return key, LAYERS[key]


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix('')
    parts = list(rel.parts)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def imported_modules(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The mmgpt modules an import statement names (relative imports resolved)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split('.')
            base = base if is_package else base[:-1]
            base = base[:len(base) - (node.level - 1)]
            names = ['.'.join(base + ([node.module] if node.module else []))]
        else:
            names = [node.module or '']
        # `from mmgpt import utils` imports mmgpt.utils
        if names[0] == 'mmgpt':
            names = [f'mmgpt.{a.name}' for a in node.names]
    else:
        return []
    return [n for n in names if n == 'mmgpt' or n.startswith('mmgpt.')]


def walk_imports():
    """Yield ``(file, line, importer, imported, in_function)`` for every mmgpt import."""
    for path in sorted(PACKAGE.rglob('*.py')):
        module = module_name(path)
        tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
        stack = [(tree, False)]
        while stack:
            node, in_function = stack.pop()
            for child in ast.iter_child_nodes(node):
                nested = in_function or isinstance(
                    child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                for imported in imported_modules(child, module, path.name == '__init__.py'):
                    yield path.relative_to(REPO), child.lineno, module, imported, in_function
                stack.append((child, nested))


def test_the_walker_sees_the_package():
    edges = list(walk_imports())
    importers = {e[2] for e in edges}
    # a sample of edges known to exist: relative and absolute, several layers
    assert 'mmgpt.models.mmgpt' in importers and 'mmgpt.engine.hooks.chat_hook' in importers
    assert any(e[2] == 'mmgpt.models.mmgpt' and e[3] == 'mmgpt.models.flamingo_lm'
               for e in edges)  # `from .flamingo_lm import ...`
    assert any(e[2] == 'mmgpt.datasets.transforms.tokenize' and e[3] == 'mmgpt.templates'
               for e in edges)


def test_no_import_points_up_a_layer():
    upward = []
    for path, line, importer, imported, _ in walk_imports():
        (src, low), (dst, high) = layer_of(importer), layer_of(imported)
        if high > low:
            upward.append(f'{path}:{line}: {importer} ({src}, layer {low}) imports '
                          f'{imported} ({dst}, layer {high})')
    assert not upward, 'imports pointing up the layer order:\n' + '\n'.join(upward)


def test_no_function_local_import_of_mmgpt():
    local = [f'{path}:{line}: {importer} imports {imported} inside a function'
             for path, line, importer, imported, in_function in walk_imports() if in_function]
    assert not local, ('function-local imports of mmgpt modules (move the import to the top, '
                       'or move the code to the right layer):\n' + '\n'.join(local))


def test_every_module_has_a_layer():
    for path in PACKAGE.rglob('*.py'):
        layer_of(module_name(path))


#: The import-time bound is measured BEYOND what every entry point pays anyway:
#: ``import torch, mmengine.dataset, mmcv.transforms`` (about 1.6 s for torch alone on the
#: 2-core machine this was written on). ``import mmgpt.datasets`` must add less than this.
DATASETS_IMPORT_BUDGET_S = 1.0

_PROBE = textwrap.dedent('''
    import json, sys, time
    import torch, mmengine, mmengine.dataset, mmcv.transforms  # paid by every entry point
    t = time.perf_counter()
    import mmgpt.datasets
    dt = time.perf_counter() - t
    heavy = [m for m in ('open_flamingo', 'peft', 'open_clip', 'mmgpt.models',
                         'mmgpt.inference', 'mmgpt.engine', 'transformers.models.llama')
             if m in sys.modules]
    print(json.dumps(dict(seconds=dt, heavy=heavy)))
''')


def _probe() -> dict:
    import json

    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, '-c', _PROBE], env=env, cwd=REPO,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_datasets_leaves_the_model_stack_out():
    result = _probe()
    assert result['heavy'] == [], f'import mmgpt.datasets loaded {result["heavy"]}'


def test_importing_datasets_is_fast():
    # The best of three fresh interpreters, to be robust to a busy shared CPU.
    times = []
    for _ in range(3):
        times.append(_probe()['seconds'])
        if times[-1] < DATASETS_IMPORT_BUDGET_S:
            break
    assert min(times) < DATASETS_IMPORT_BUDGET_S, (
        f'import mmgpt.datasets took {min(times):.2f} s beyond torch + mmengine + mmcv '
        f'(budget {DATASETS_IMPORT_BUDGET_S} s)')
