"""The embedded end-to-end demo: the whole MultiModal-GPT method, on a CPU, in minutes.

    python tools/demo.py [--work-dir work_dirs/demo] [--force STAGE]

1. data    writes the synthetic shapes world in the public formats (LLaVA-Instruct,
           cc_sbu_align, Dolly) with held-out images and questions;
2. clip    stage 0: pretrains a tiny CLIP contrastively on its captions (the stand-in
           for OpenAI's CLIP ViT-L/14);
3. stage1  pretrains a tiny OpenFlamingo on its image-text documents (CLIP frozen, the
           perceiver, cross-attention and a from-scratch LM trainable);
4. stage2  MultiModal-GPT: stage 1 frozen + LoRA, joint vision-language and language-only
           instruction tuning, accumulation 16, cosine schedule;
5. eval    writes the held-out items in public evaluation formats and scores the stage-1
           base and the tuned model with tools/test.py (configs/eval/shapes_world.py),
           writes eval.json and prints the table;
6. chat    prints a short transcript on a held-out image.

Every training stage is an ordinary config under configs/demo/ run by tools/train.py;
this script only orders them and passes each its data folder
(``train_dataloader.dataset.data_root``), its work dir and the earlier stages' weight
files (``--cfg-options``). Each stage config exports its final weights into its work dir
(``ExportWeightsHook``). Finished stages are reused when run again; a stage that runs makes
every later stage run too (``--force stage1`` redoes stage 1 and what follows). Every long
step shows progress.
Errors end in one line (``--debug`` or ``MMGPT_DEBUG=1`` for the traceback); torch's
threads are capped to the usable cores (``--threads`` or ``MMGPT_NUM_THREADS``).

Deterministic: every stage is seeded (data, CLIP steps, ``randomness.seed`` of the
training configs: model init, data order; greedy answers), and every stage runs with
``--threads`` CPU threads, so the same command on the same machine gives the same weights
and the same ``eval.json`` byte for byte. Another thread count changes the order of float
reductions, hence the weights and possibly the scores (docs/demo.md).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from mmgpt.demo.threads import demo_threads, set_threads  # noqa: E402
from mmgpt.utils.cli import add_debug_argument, run_cli  # noqa: E402

STAGE0_CONFIG = os.path.join(REPO, 'configs', 'demo', 'stage0_clip_pretrain.py')
STAGE1_CONFIG = os.path.join(REPO, 'configs', 'demo', 'stage1_openflamingo_pretrain.py')
STAGE2_CONFIG = os.path.join(REPO, 'configs', 'demo', 'stage2_mmgpt_lora.py')
EVAL_CONFIG = os.path.join(REPO, 'configs', 'eval', 'shapes_world.py')
STAGES = ('data', 'clip', 'stage1', 'stage2', 'eval')
TRANSCRIPT = ('Describe the image in detail.', 'What color are the shapes?',
              'How many of them are there?')
LANGUAGE_TRANSCRIPT = ('What is 3 plus 4?', 'Reverse the word dog.')


def parse_args(argv=None):
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo', help='where everything goes')
    parser.add_argument('--force', choices=STAGES, default=None,
                        help='redo this stage and every later one')
    parser.add_argument('--eval-per-task', type=int, default=50,
                        help='held-out items per task (default: 50)')
    parser.add_argument('--smoke', action='store_true',
                        help='a one-minute check of the whole pipeline on a tiny world with a '
                             'few steps per stage (tests the code, not the accuracy; use '
                             'another --work-dir)')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads of every stage (torch, and the training '
                             'processes); the same number on the same machine gives the same '
                             'results (default: MMGPT_NUM_THREADS, else min(2, usable cores), '
                             'fixed so that two runs repeat)')
    parser.add_argument('--verbose', action='store_true',
                        help="show the training processes' whole output (MMEngine's "
                             'environment, config and per-iteration log) instead of a '
                             'progress bar; it is in each stage\'s train.log either way')
    add_debug_argument(parser)
    return parser.parse_args(argv)


def banner(text: str) -> None:
    """Print a stage header."""
    print(f'\n=== {text} ===', flush=True)


def train(config: str, work_dir: str, options: list, threads: int | None = None,
          verbose: bool = False) -> None:
    """Run tools/train.py in a child process, its output in ``work_dir/train.log`` and a
    progress bar on the console (``verbose``: the output itself); stop the demo if it
    fails."""
    from mmgpt.demo.runs import TrainingFailed, run_with_progress

    cmd = [sys.executable, os.path.join(REPO, 'tools', 'train.py'), config, '--work-dir',
           work_dir] + ([f'--threads={threads}'] if threads else []) + ['--cfg-options',
                                                                      *options]
    log = os.path.join(work_dir, 'train.log')
    try:
        run_with_progress(cmd, log, os.path.basename(work_dir), verbose=verbose)
    except TrainingFailed as err:
        raise SystemExit(f'demo.py: error: {err}\n(hint: the command was {" ".join(cmd)})') \
            from None
    if not verbose:
        print(f'[log: {os.path.relpath(log)}]', flush=True)


class Demo:
    """The demo's paths and stages."""

    def __init__(self, args):
        self.root = os.path.abspath(args.work_dir)
        self.data = os.path.join(self.root, 'data')
        self.stage0 = os.path.join(self.root, 'stage0')
        self.stage1 = os.path.join(self.root, 'stage1')
        self.stage2 = os.path.join(self.root, 'stage2')
        self.clip_weights = os.path.join(self.stage0, 'clip_tiny.safetensors')
        self.base_weights = os.path.join(self.stage1, 'openflamingo_tiny.safetensors')
        self.lora_weights = os.path.join(self.stage2, 'mmgpt_lora.safetensors')
        self.eval_json = os.path.join(self.root, 'eval.json')
        self.eval_per_task = 2 if args.smoke else args.eval_per_task
        self.smoke = args.smoke
        self.threads = args.threads
        self.verbose = args.verbose
        self.force = STAGES.index(args.force) if args.force else len(STAGES)

    def done(self, stage: str, marker: str) -> bool:
        """Whether a stage's output exists and it is not forced.

        A stage that is not done forces every later stage: their outputs were made from
        the old one.
        """
        index = STAGES.index(stage)
        if index < self.force and os.path.exists(marker):
            print(f'[reusing {os.path.relpath(marker)}]', flush=True)
            return True
        self.force = min(self.force, index + 1)
        return False

    def make_data(self):
        """Stage: the shapes world."""
        banner('1/6 data: the synthetic shapes world in public annotation formats')
        if self.done('data', os.path.join(self.data, 'meta.json')):
            return
        from mmgpt.demo import generate_shapes_world
        sizes = dict(num_train=48, num_test=12, num_lang=48) if self.smoke else {}
        meta = generate_shapes_world(self.data, eval_per_task=self.eval_per_task,
                                     progress=True, **sizes)
        print(f'wrote {len(meta["files"])} files to {os.path.relpath(self.data)}')

    def train_clip(self):
        """Stage 0: pretrain the tiny CLIP (writes stage0/clip_tiny.safetensors)."""
        banner('2/6 stage 0: pretrain a tiny CLIP on the captions (contrastive)')
        if self.done('clip', self.clip_weights):
            return
        smoke = ['train_dataloader.dataset.num_batches=5', 'default_hooks.logger.interval=1']
        train(STAGE0_CONFIG, self.stage0, self._data_opt() + (smoke if self.smoke else []),
              verbose=self.verbose)

    def train_stage1(self):
        """Stage 1: pretrain the tiny OpenFlamingo (writes its weights file)."""
        banner('3/6 stage 1: pretrain a tiny OpenFlamingo (CLIP frozen, the rest trains)')
        if self.done('stage1', self.base_weights):
            return
        train(STAGE1_CONFIG, self.stage1,
              [f'model.vision_encoder.pretrained={self.clip_weights}']
              + self._data_opt() + self._smoke_opts(), self.threads, self.verbose)

    def train_stage2(self):
        """Stage 2: MultiModal-GPT joint LoRA tuning (writes the LoRA weights file)."""
        banner('4/6 stage 2: MultiModal-GPT = frozen stage 1 + LoRA, joint instruction tuning')
        if self.done('stage2', self.lora_weights):
            return
        train(STAGE2_CONFIG, self.stage2,
              [f'model.pretrained={self.base_weights}',
               f'model.vision_encoder.pretrained={self.clip_weights}']
              + self._data_opt() + self._smoke_opts(), self.threads, self.verbose)

    def _data_opt(self) -> list:
        """The one setting that points a stage's datasets at this demo's data folder."""
        return [f'train_dataloader.dataset.data_root={self.data}/']

    def _smoke_opts(self) -> list:
        """One epoch, logged every iteration, for ``--smoke``."""
        if not self.smoke:
            return []
        return ['train_cfg.max_epochs=1', 'default_hooks.logger.interval=1',
                'param_scheduler.1.end=1']

    def engine(self):
        """The stage-2 model with LoRA at identity: exactly the stage-1 base."""
        from mmengine import Config

        from mmgpt.inference import ChatEngine

        cfg = Config.fromfile(STAGE2_CONFIG)
        cfg.model.pretrained = self.base_weights
        cfg.model.vision_encoder.pretrained = self.clip_weights
        return ChatEngine.from_config(cfg)

    def evaluate(self):
        """Stage: base vs tuned on held-out items, through tools/test.py's path.

        The held-out items are written in public formats (VQAv2, COCO Karpathy, LLaVA,
        Dolly; :func:`mmgpt.demo.write_eval_splits`) and ``tools/test.py`` answers and
        scores them with ``configs/eval/shapes_world.py`` (KeywordAcc) for the stage-1
        base (LoRA at identity: checkpoint ``none``) and the tuned LoRA weights.
        """
        from mmgpt.demo import format_table, summary_from_metrics, write_eval_splits
        from mmgpt.utils import atomic_write_bytes

        banner('5/6 evaluation on held-out images and questions (tools/test.py)')
        if not self.done('eval', self.eval_json):
            with open(os.path.join(self.data, 'eval_items.json')) as f:
                items = json.load(f)
            keys = write_eval_splits(self.data)
            metrics, answers = {}, {}
            for name, weights in (('base', 'none'), ('tuned', self.lora_weights)):
                metrics[name], answers[name] = self._test(name, weights)
            summary = summary_from_metrics(items, metrics)
            summary['examples'] = [dict(task=i['task'], question=i['turns'][-1],
                                        reference=i['answer'], base=answers['base'][k],
                                        tuned=answers['tuned'][k])
                                   for i, k in list(zip(items, keys))[::15]]
            atomic_write_bytes(json.dumps(summary, indent=1).encode(), self.eval_json)
        with open(self.eval_json) as f:
            summary = json.load(f)
        print(format_table(summary))
        print('base/tuned: keyword accuracy; *_strict: the reference sentence word for word '
              f'(full results in {os.path.relpath(self.eval_json)}; predictions and metrics '
              f'in {os.path.relpath(os.path.join(self.root, "eval"))})')

    def _test(self, name: str, weights: str) -> tuple:
        """Run tools/test.py's main on the shapes-world splits; (metrics, {key: answer})."""
        from mmgpt.engine import read_predictions

        out = os.path.join(self.root, 'eval', name)
        preds, report = os.path.join(out, 'predictions.jsonl'), os.path.join(out, 'metrics.json')
        options = [f'model.pretrained={self.base_weights}',
                   f'model.vision_encoder.pretrained={self.clip_weights}',
                   f'test_evaluator.0.ann_file={self.data}/eval/keywords.json']
        options += [f'test_dataloader.dataset.datasets.{i}.data_root={self.data}/'
                    for i in range(4)]
        if not self.verbose:  # MMEngine's environment and hook lists: --verbose shows them
            options.append('log_level=WARNING')
        argv = [EVAL_CONFIG, weights, '--work-dir', out, '--out', preds, '--metrics-out',
                report, '--cfg-options', *options]
        print(f'[{name}: {"stage-1 base (LoRA at identity)" if weights == "none" else weights}]',
              flush=True)
        # tools/test.py's own main, in this process (two Python start-ups saved)
        spec = importlib.util.spec_from_file_location(
            'mmgpt_test_tool', os.path.join(REPO, 'tools', 'test.py'))
        test_tool = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(test_tool)
        if self.verbose:
            test_tool.main(argv)
        else:  # its per-metric listing: the demo prints its table below (all in metrics.json)
            with contextlib.redirect_stdout(io.StringIO()):
                test_tool.main(argv)
        with open(report) as f:
            metrics = json.load(f)['metrics']
        return metrics, {k: p['pred_text'] for k, p in read_predictions(preds).items()}

    def transcript(self):
        """Stage: a short chat on a held-out image."""
        from mmgpt.models import load_weights_file

        banner('6/6 chat with the tuned model about a held-out image')
        engine = self.engine()
        engine.model.load_state_dict(load_weights_file(self.lora_weights), strict=True)
        with open(os.path.join(self.data, 'eval_items.json')) as f:
            image = next(i['image'] for i in json.load(f) if i['task'] == 'count')
        conv = engine.new_conversation()
        conv.add_image(os.path.join(self.data, image))
        print(f'[image: {os.path.relpath(os.path.join(self.data, image))}]')
        self._chat(engine, conv, TRANSCRIPT)
        for question in LANGUAGE_TRANSCRIPT:
            print('[/reset: a new conversation, language only]')
            self._chat(engine, engine.new_conversation(), [question])

    @staticmethod
    def _chat(engine, conv, questions):
        for question in questions:
            print(f'you> {question}')
            print(f'bot> {engine.ask(conv, question)}', flush=True)


def main(argv=None):
    """Run the demo."""
    args = parse_args(argv)
    threads = args.threads or demo_threads()
    args.threads = threads
    set_threads(threads)
    start = time.perf_counter()
    demo = Demo(args)
    os.makedirs(demo.root, exist_ok=True)
    for step in (demo.make_data, demo.train_clip, demo.train_stage1, demo.train_stage2,
                 demo.evaluate, demo.transcript):
        step()
    print(f'\ndemo finished in {(time.perf_counter() - start) / 60:.1f} min; everything is in '
          f'{os.path.relpath(demo.root)}')


if __name__ == '__main__':
    sys.exit(run_cli(main))
