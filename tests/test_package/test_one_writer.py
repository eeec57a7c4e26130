"""One crash-safe writer: only mmgpt/utils/fileio.py renames or fsyncs files."""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WRITER = REPO / 'mmgpt' / 'utils' / 'fileio.py'


def test_only_the_fileio_module_renames_or_syncs_files():
    pattern = re.compile(r'\bos\.(replace|rename|fsync)\(')
    offenders = []
    for folder in ('mmgpt', 'tools'):
        for path in (REPO / folder).rglob('*.py'):
            if path == WRITER:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f'{path.relative_to(REPO)}:{number}: {line.strip()}')
    assert not offenders, ('write files through mmgpt.utils.fileio (atomic_write_bytes / '
                           'atomic_replace):\n' + '\n'.join(offenders))
    assert 'os.fsync' in WRITER.read_text() and 'os.replace' in WRITER.read_text()


def test_atomic_replace_dir_swaps_whole_folders(tmp_path):
    """The export folder is replaced whole: old content gone, new content complete."""
    from mmgpt.utils.fileio import atomic_replace_dir

    out = tmp_path / 'out'
    out.mkdir()
    (out / 'old.txt').write_text('old')
    new = tmp_path / 'new'
    new.mkdir()
    (new / 'a.txt').write_text('a')
    atomic_replace_dir(str(new), str(out))
    assert sorted(p.name for p in out.iterdir()) == ['a.txt']
    assert not new.exists()
    assert [p.name for p in tmp_path.iterdir()] == ['out']  # the old folder is removed
