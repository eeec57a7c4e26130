"""Export a tuned MultiModal-GPT: a peft adapter folder, or LoRA merged into plain weights.

    python tools/export.py CONFIG CHECKPOINT --to peft OUT_DIR
    python tools/export.py CONFIG CHECKPOINT --to merged OUT_DIR

CHECKPOINT is anything this project writes (a training ``iter_N.pth``, also of a resumed
or distributed run, or a ``.safetensors`` of trainable weights) or the MultiModal-GPT
release's ``mmgpt-lora-v0-release.pt``; it is loaded strictly onto the model CONFIG
builds, and a checkpoint of another config stops with the mismatched keys named.
docs/export.md describes what each folder holds and how to load it without mmgpt.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from mmengine import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from mmgpt.models import CheckpointKeyError, UnsafeCheckpointError, load_checkpoint  # noqa: E402
from mmgpt.models.export import export_merged, export_peft  # noqa: E402
from mmgpt.registry import MODELS  # noqa: E402
from mmgpt.utils.cli import run_cli  # noqa: E402
from mmgpt.utils.fileio import atomic_replace_dir  # noqa: E402
from mmgpt.utils.threads import set_torch_threads  # noqa: E402


def parse_args(argv=None):
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='trained weights (.pth, .safetensors, or the '
                        "release's .pt)")
    parser.add_argument('--to', required=True, choices=['peft', 'merged'], dest='layout',
                        help='peft: an adapter folder; merged: LoRA folded into the weights')
    parser.add_argument('out_dir', help='the folder to write (must not exist or be empty)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config keys, e.g. model.lang_model.path=DIR')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace OUT_DIR if it exists')
    parser.add_argument('--include-vision', choices=['auto', 'yes', 'no'], default='auto',
                        help='merged: put the CLIP tower into checkpoint.pt (auto: when it '
                        'is not a stock open_clip model or was trained)')
    args = parser.parse_args(argv)
    if os.path.exists(args.out_dir) and os.listdir(args.out_dir) and not args.overwrite:
        parser.error(f'{args.out_dir} exists and is not empty (use --overwrite)')
    return args


def _usual_permissions(folder: str) -> None:
    """Temporary files and folders are private (0600/0700); give the export the umask's."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o777 & ~umask)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~umask)


def main(argv=None) -> dict:
    """Entry point; returns what was written."""
    args = parse_args(argv)
    set_torch_threads()
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmgpt'))
    model = MODELS.build(cfg.model).eval()
    try:
        found = load_checkpoint(model, args.checkpoint)
    except (CheckpointKeyError, UnsafeCheckpointError, ValueError, FileNotFoundError) as err:
        raise SystemExit(f'export: {err}') from None
    model_cfg = cfg.model.to_dict()
    # Write into a fresh folder next to OUT_DIR, then move it into place: a failed export
    # never leaves a half-written OUT_DIR.
    parent = os.path.dirname(os.path.abspath(args.out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.export-', dir=parent)
    try:
        if args.layout == 'peft':
            info = export_peft(model, tmp, base_model_name_or_path=model_cfg.get(
                'lang_model', {}).get('path'))
        else:
            include = {'auto': None, 'yes': True, 'no': False}[args.include_vision]
            info = export_merged(model, model_cfg, tmp, include_vision=include)
        info = dict(info, source=dict(config=args.config, checkpoint=args.checkpoint,
                                      checkpoint_layout=found))
        with open(os.path.join(tmp, 'export.json'), 'w', encoding='utf-8') as f:
            json.dump(info, f, indent=2)
    except ValueError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SystemExit(f'export: {err}') from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _usual_permissions(tmp)
    atomic_replace_dir(tmp, args.out_dir)
    print(json.dumps(info, indent=2))
    print(f'wrote {args.layout} export of {args.checkpoint} to {args.out_dir}',
          file=sys.stderr)
    return info


if __name__ == '__main__':
    sys.exit(run_cli(main))
