"""The paper's two data claims, and its choice of LoRA targets, tested in the shapes world.

    python tools/experiments.py [--demo-dir work_dirs/demo] [--work-dir work_dirs/experiments]
        [--experiments A B C] [--seeds 0 1 2] [--fraction 1.0] [--threads 2]
        [--docs docs/experiments.md]

Every run is the demo's stage 2 (configs/demo/stage2_mmgpt_lora.py, or an arm of
configs/experiments/ that inherits it) on the stage-0/stage-1 base of a finished demo
(--demo-dir, read only), trained with tools/train.py, then evaluated on the demo's
held-out items. The demo's own stage 2 is the control arm of every experiment:

A  short answers   + a short-answer block (VQA v2 / GQA formats, one word)   claim 1
B  language-only   - the language-only stream                                 claim 2
C  LoRA targets    LoRA on self-attention only (cross-attention frozen)       a choice

Each (arm, seed) run writes runs/<arm>/seed<k>/ (config, logs, lora.safetensors,
answers.json, metrics.json) and is reused when the command runs again. The summary
(results.json: per run and mean / std / min / max over seeds), the plots (PNG) and
report.md (the tables) go to --work-dir; --docs also rewrites the generated blocks of a
markdown file (between ``<!-- experiments:NAME -->`` and ``<!-- /experiments:NAME -->``)
and copies the plots next to it (docs/images/).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from mmgpt.demo.runs import ITER_RE  # noqa: E402
from mmgpt.utils import atomic_write_bytes  # noqa: E402

DEMO_CONFIG = 'configs/demo/stage2_mmgpt_lora.py'
#: The arms: a name and the stage-2 config it trains.
ARMS = {
    'demo': DEMO_CONFIG,
    'short_answers': 'configs/experiments/a_short_answers.py',
    'no_language': 'configs/experiments/b_no_language.py',
    'lora_self_attn': 'configs/experiments/c_lora_self_attn.py',
}
#: Experiments: the arms compared (control first) and the metrics shown.
EXPERIMENTS = {
    'A': dict(title='short-answer data in the vision-language mix',
              arms=('demo', 'short_answers'),
              metrics=('len/dialog', 'len/caption', 'terse/dialog', 'terse/caption',
                       'strict/vl', 'acc/vl', 'short/acc', 'short/exact', 'acc/dialog',
                       'strict/dialog', 'acc/caption', 'strict/caption', 'acc/lang')),
    'B': dict(title='joint training with the language-only stream',
              arms=('demo', 'no_language'),
              metrics=('acc/lang_add', 'acc/lang_reverse', 'acc/lang_upper', 'acc/lang',
                       'strict/lang', 'acc/count', 'acc/color', 'acc/shape', 'acc/word',
                       'acc/caption', 'acc/dialog', 'acc/vl', 'strict/vl')),
    'C': dict(title='LoRA targets: the paper\'s vs self-attention only',
              arms=('demo', 'lora_self_attn'),
              metrics=('acc/count', 'acc/color', 'acc/shape', 'acc/word', 'acc/caption',
                       'acc/dialog', 'acc/vl', 'strict/vl', 'acc/lang', 'strict/all')),
}
#: Bars drawn per experiment (a subset of its metrics).
BARS = {
    'A': ('len/dialog', 'len/caption', 'terse/dialog', 'terse/caption', 'strict/vl',
          'acc/vl', 'short/acc', 'short/exact'),
    'B': ('acc/lang_add', 'acc/lang_reverse', 'acc/lang_upper', 'acc/count', 'acc/color',
          'acc/shape', 'acc/word', 'acc/caption', 'acc/dialog'),
    'C': ('acc/count', 'acc/color', 'acc/shape', 'acc/word', 'acc/caption', 'acc/dialog',
          'acc/lang', 'strict/all'),
}
LOG_EVERY = 16  # iterations between logged losses (one optimizer update)
TRAINABLE_RE = re.compile(r'trainable parameters: ([\d,]+) of')


def parse_args(argv=None):
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--demo-dir', default='work_dirs/demo',
                        help='a finished demo: its data, stage0 and stage1 are used (read only)')
    parser.add_argument('--work-dir', default='work_dirs/experiments', help='outputs')
    parser.add_argument('--experiments', nargs='+', choices=sorted(EXPERIMENTS),
                        default=sorted(EXPERIMENTS), help='which experiments (default: all)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2],
                        help='stage-2 seeds (randomness.seed; default: 0 1 2)')
    parser.add_argument('--fraction', type=float, default=1.0,
                        help='share of every sampled vision-language file (and of the '
                             'warm-up) to train on: fewer stage-2 iterations (default: 1)')
    parser.add_argument('--threads', type=int, default=2,
                        help='CPU threads of training and evaluation; runs are identical '
                             'for the same number on the same machine (default: 2)')
    parser.add_argument('--eval-per-task', type=int, default=None,
                        help='evaluate only the first N items of each task (default: all)')
    parser.add_argument('--docs', default=None,
                        help='a markdown file whose generated blocks to rewrite; the plots '
                             'are copied to images/ next to it')
    parser.add_argument('--report-only', action='store_true',
                        help='train nothing: summarise the finished runs')
    parser.add_argument('--smoke', action='store_true',
                        help='a few iterations per run and 2 items per task (checks the '
                             'code; use another --work-dir)')
    return parser.parse_args(argv)


# ----------------------------------------------------------------------------- runs
class Run:
    """One (arm, seed) training + evaluation and its files."""

    def __init__(self, arm: str, seed: int, args):
        self.arm, self.seed, self.args = arm, seed, args
        self.dir = os.path.join(args.work_dir, 'runs', arm, f'seed{seed}')
        self.config = os.path.join(self.dir, 'config.py')
        self.weights = os.path.join(self.dir, 'lora.safetensors')
        self.metrics = os.path.join(self.dir, 'metrics.json')
        self.log = os.path.join(self.dir, 'train.log')

    @property
    def name(self) -> str:
        """``arm/seedK``."""
        return f'{self.arm}/seed{self.seed}'

    def done(self) -> bool:
        """Whether this run has its metrics."""
        return os.path.isfile(self.metrics)

    def build_config(self):
        """The arm's config pointed at the demo's base and data, with this seed."""
        from mmengine import Config

        from mmgpt.demo.shapes_world import SHORT_ANSWER_FILES

        args = self.args
        cfg = Config.fromfile(os.path.join(REPO, ARMS[self.arm]))
        base = os.path.join(args.demo_dir, 'stage{}', '{}.safetensors')
        cfg.model.pretrained = base.format(1, 'openflamingo_tiny')
        cfg.model.vision_encoder.pretrained = base.format(0, 'clip_tiny')
        cfg.randomness = dict(seed=self.seed, deterministic=False)
        cfg.work_dir = self.dir
        data_root = os.path.join(args.demo_dir, 'data') + os.sep
        dataset = cfg.train_dataloader.dataset
        for entry in [*dataset.vl, *dataset.lang]:
            entry.data_root = data_root
            if entry.ann_file in SHORT_ANSWER_FILES:  # made by this tool, not the demo
                entry.ann_file = os.path.join(args.work_dir, 'short_answers', entry.ann_file)
            if entry.get('sample') is not None and args.fraction != 1.0:
                entry.sample = max(4, round(entry.sample * args.fraction))
        warmup = cfg.param_scheduler[0]
        warmup.end = max(1, round(warmup.end * args.fraction))
        cfg.default_hooks.logger.interval = 1 if args.smoke else LOG_EVERY
        return cfg

    def train(self, bar_position: str) -> float:
        """Train with tools/train.py in a child process; returns the seconds taken."""
        from mmgpt.demo.runs import TrainingFailed, run_with_progress

        os.makedirs(self.dir, exist_ok=True)
        cfg = self.build_config()
        cfg.dump(self.config)
        cmd = [sys.executable, os.path.join(REPO, 'tools', 'train.py'), self.config,
               '--work-dir', self.dir]
        try:
            return run_with_progress(cmd, self.log, f'{bar_position} {self.name} train',
                                     cwd=REPO, leave=False)
        except TrainingFailed as err:
            raise SystemExit(f'training {self.name} failed: {err}') from None

    def export(self) -> None:
        """The trained weights as ``lora.safetensors`` (the stage-2 config's
        ``ExportWeightsHook`` writes them into the run's work dir at the end)."""
        from mmgpt.models import load_weights_file, save_weights_file

        exported = os.path.join(self.dir, 'mmgpt_lora.safetensors')
        if not os.path.isfile(exported):
            raise SystemExit(f'training {self.name} left no {exported}; see {self.log}')
        save_weights_file(load_weights_file(exported), self.weights)

    def evaluate(self, items: list, bar_position: str) -> list:
        """Answer the items with the trained model."""
        from mmengine import Config

        from mmgpt.demo.experiments import score_run
        from mmgpt.inference import ChatEngine
        from mmgpt.models import load_weights_file

        engine = ChatEngine.from_config(Config.fromfile(self.config))
        engine.model.load_state_dict(load_weights_file(self.weights), strict=True)
        return score_run(engine, items, os.path.join(self.args.demo_dir, 'data'),
                         desc=f'{bar_position} {self.name} eval')


def load_items(args) -> list:
    """The demo's held-out items (the first ``--eval-per-task`` of each task)."""
    with open(os.path.join(args.demo_dir, 'data', 'eval_items.json')) as f:
        items = json.load(f)
    per_task = 2 if args.smoke else args.eval_per_task
    if per_task is None:
        return items
    kept, seen = [], {}
    for item in items:
        seen[item['task']] = seen.get(item['task'], 0) + 1
        if seen[item['task']] <= per_task:
            kept.append(item)
    return kept


def check_demo(demo_dir: str) -> None:
    """Stop with a clear message when the demo's base is incomplete."""
    needed = ['stage0/clip_tiny.safetensors', 'stage1/openflamingo_tiny.safetensors',
              'data/meta.json', 'data/eval_items.json']
    missing = [p for p in needed if not os.path.isfile(os.path.join(demo_dir, p))]
    if missing:
        raise SystemExit(f'--demo-dir {demo_dir} is not a finished demo: missing '
                         f'{", ".join(missing)} (run tools/demo.py --work-dir {demo_dir})')


def run_all(args, runs: list, items: list) -> None:
    """Train and evaluate the runs that have no metrics yet, with progress and ETA."""
    from mmgpt.demo.experiments import run_metrics

    todo = [run for run in runs if not run.done()]
    print(f'{len(runs)} runs, {len(runs) - len(todo)} already done, {len(todo)} to train '
          f'({len(items)} evaluation items each)', flush=True)
    spent = []
    for index, run in enumerate(todo, start=1):
        position = f'[{index}/{len(todo)}]'
        start = time.perf_counter()
        train_s = run.train(position)
        run.export()
        eval_start = time.perf_counter()
        results = run.evaluate(items, position)
        eval_s = time.perf_counter() - eval_start
        metrics = run_metrics(items, results)
        atomic_write_bytes(json.dumps(results, indent=1).encode(),
                           os.path.join(run.dir, 'answers.json'))
        record = dict(arm=run.arm, seed=run.seed, config=ARMS[run.arm], train_s=round(train_s, 1),
                      eval_s=round(eval_s, 1), fraction=args.fraction,
                      iterations=_iterations(run), metrics=metrics)
        atomic_write_bytes(json.dumps(record, indent=1).encode(), run.metrics)
        spent.append(time.perf_counter() - start)
        left = (len(todo) - index) * sum(spent) / len(spent)
        print(f'{position} {run.name}: train {train_s:.0f} s, eval {eval_s:.0f} s; '
              f'vl {100 * metrics["acc/vl"]:.1f}% (strict {100 * metrics["strict/vl"]:.1f}%), '
              f'lang {100 * metrics["acc/lang"]:.1f}%; about {left / 60:.1f} min left',
              flush=True)


def _iterations(run: Run) -> int:
    """Iterations of the run's epoch (``N`` of the log's ``Iter(train) [k/N]``)."""
    total = 0
    with open(run.log) as f:
        for line in f:
            match = ITER_RE.search(line)
            if match:
                total = int(match.group(2))
    return total


def _trainable(run: Run) -> int | None:
    """Trainable parameters, as the model logged them."""
    with open(run.log) as f:
        for line in f:
            match = TRAINABLE_RE.search(line)
            if match:
                return int(match.group(1).replace(',', ''))
    return None


# ----------------------------------------------------------------------------- summary
def read_losses(run: Run) -> dict:
    """``{'iter': [...], 'loss_vl': [...], 'loss_lang': [...]}`` from MMEngine's scalars.json
    (the newest training of the run)."""
    suffix = os.path.join('vis_data', 'scalars.json')
    found = sorted(p for p in _walk(run.dir) if p.endswith(suffix))
    curves = {'iter': [], 'loss_vl': [], 'loss_lang': []}
    if not found:
        return curves
    with open(found[-1]) as f:
        for line in f:
            row = json.loads(line)
            if 'loss_vl' not in row:
                continue
            curves['iter'].append(row['iter'])
            curves['loss_vl'].append(row['loss_vl'])
            curves['loss_lang'].append(row.get('loss_lang'))
    return curves


def _walk(folder: str):
    for root, _, files in os.walk(folder):
        for name in files:
            yield os.path.join(root, name)


def summarize_runs(args, runs: list, items: list) -> dict:
    """results.json: every run's metrics and times, and per experiment and arm the mean,
    std, min and max over seeds. Metrics are recomputed from each run's answers, so the
    summary always follows the current metric code."""
    from mmgpt.demo.experiments import aggregate, run_metrics

    records = {}
    for run in runs:
        with open(run.metrics) as f:
            records[run.name] = json.load(f)
        if records[run.name]['fraction'] != args.fraction:
            raise SystemExit(f"{run.metrics} was trained with --fraction "
                             f"{records[run.name]['fraction']}, not {args.fraction}: use the "
                             'same options or another --work-dir')
        with open(os.path.join(run.dir, 'answers.json')) as f:
            answers = json.load(f)
        if len(answers) != len(items):
            raise SystemExit(f'{run.dir}/answers.json has {len(answers)} answers for '
                             f'{len(items)} items: use the --eval-per-task of the runs')
        records[run.name]['metrics'] = run_metrics(items, answers)
        records[run.name]['iterations'] = _iterations(run)
        records[run.name]['trainable'] = _trainable(run)
    summary = {}
    for key in args.experiments:
        spec = EXPERIMENTS[key]
        arms = {}
        for arm in spec['arms']:
            mine = [records[r.name] for r in runs if r.arm == arm]
            arms[arm] = {m: aggregate([rec['metrics'][m] for rec in mine])
                         for m in mine[0]['metrics']}
            arms[arm]['seeds'] = [rec['seed'] for rec in mine]
        summary[key] = dict(title=spec['title'], arms=arms)
    return dict(demo_dir=os.path.abspath(args.demo_dir), seeds=args.seeds,
                fraction=args.fraction, smoke=args.smoke, runs=records, experiments=summary,
                train_s_total=round(sum(r['train_s'] for r in records.values()), 1),
                eval_s_total=round(sum(r['eval_s'] for r in records.values()), 1))


def plot_losses(args, runs: list, key: str, path: str) -> None:
    """Loss curves (loss_vl and loss_lang side by side) of every run of an experiment."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    arms = EXPERIMENTS[key]['arms']
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    colors = dict(zip(arms, ('tab:blue', 'tab:orange')))
    for run in runs:
        if run.arm not in arms:
            continue
        curves = read_losses(run)
        for ax, name in zip(axes, ('loss_vl', 'loss_lang')):
            points = [(i, v) for i, v in zip(curves['iter'], curves[name]) if v is not None]
            if points:
                ax.plot(*zip(*points), color=colors[run.arm], alpha=0.8, linewidth=1,
                        label=run.arm if run.seed == args.seeds[0] else None)
    for ax, name in zip(axes, ('loss_vl (vision-language)', 'loss_lang (language-only)')):
        ax.set_yscale('log')
        ax.set_title(name, fontsize=10)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('loss per token')
    axes[0].legend(fontsize=8)
    fig.suptitle(f'{key}: {EXPERIMENTS[key]["title"]} (one line per seed)', fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_bars(summary: dict, key: str, path: str) -> None:
    """One bar per arm and metric (mean over seeds), error bars from min to max."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    arms = EXPERIMENTS[key]['arms']
    metrics = BARS[key]
    fig, axes = plt.subplots(1, 2 if key == 'A' else 1, figsize=(9, 3.4),
                             gridspec_kw={'width_ratios': [1, 3]} if key == 'A' else None)
    axes = list(axes) if key == 'A' else [axes]
    groups = ([[m for m in metrics if m.startswith('len/')],
               [m for m in metrics if not m.startswith('len/')]] if key == 'A' else [metrics])
    width = 0.8 / len(arms)
    for ax, group in zip(axes, groups):
        for a, arm in enumerate(arms):
            stats = [summary['experiments'][key]['arms'][arm][m] for m in group]
            scale = [1 if m.startswith('len/') else 100 for m in group]
            means = [s['mean'] * k for s, k in zip(stats, scale)]
            low = [(s['mean'] - s['min']) * k for s, k in zip(stats, scale)]
            high = [(s['max'] - s['mean']) * k for s, k in zip(stats, scale)]
            ax.bar([i + a * width for i in range(len(group))], means, width, label=arm,
                   yerr=[low, high], capsize=3)
        ax.set_xticks([i + width * (len(arms) - 1) / 2 for i in range(len(group))])
        ax.set_xticklabels([m.replace('acc/', '').replace('strict/', 'strict ')
                            .replace('len/', 'words ') for m in group], rotation=30,
                           ha='right', fontsize=8)
        ax.set_ylabel('words' if group[0].startswith('len/') else '%')
        ax.grid(axis='y', alpha=0.3)
    axes[-1].legend(fontsize=8)
    fig.suptitle(f'{key}: {EXPERIMENTS[key]["title"]} (mean over seeds, bars: min-max)',
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def report_blocks(summary: dict) -> dict:
    """The generated markdown blocks: one table per experiment and a run list."""
    from mmgpt.demo.experiments import markdown_table

    blocks = {}
    for key in summary['experiments']:
        spec = EXPERIMENTS[key]
        blocks[f'table-{key}'] = markdown_table(summary['experiments'][key]['arms'],
                                                spec['arms'], spec['metrics'])
    lines = ['| run | config | trainable parameters | iterations | train (s) | eval (s) |',
             '|---|---|---|---|---|---|']
    for name, rec in summary['runs'].items():
        lines.append(f"| {name} | `{rec['config']}` | {rec['trainable']:,} | "
                     f"{rec['iterations']} | {rec['train_s']} | {rec['eval_s']} |")
    lines.append(f"| **all** | | | | {summary['train_s_total']} | "
                 f"{summary['eval_s_total']} |")
    blocks['runs'] = '\n'.join(lines)
    return blocks


def rewrite_blocks(path: str, blocks: dict) -> None:
    """Replace each ``<!-- experiments:NAME -->...<!-- /experiments:NAME -->`` block."""
    with open(path) as f:
        text = f.read()
    for name, body in blocks.items():
        pattern = re.compile(
            rf'(<!-- experiments:{name} -->\n)(?:.*?\n)?(<!-- /experiments:{name} -->)', re.S)
        if not pattern.search(text):
            raise SystemExit(f'{path}: no block <!-- experiments:{name} --> ... '
                             f'<!-- /experiments:{name} --> to fill')
        text = pattern.sub(lambda m, body=body: m.group(1) + body + '\n' + m.group(2), text)
    atomic_write_bytes(text.encode(), path)


def main(argv=None):
    """Run the experiments and write the summary, plots and tables."""
    from mmgpt.demo.threads import set_threads

    args = parse_args(argv)
    set_threads(args.threads)
    args.demo_dir = os.path.abspath(args.demo_dir)
    args.work_dir = os.path.abspath(args.work_dir)
    if args.smoke:
        args.fraction = min(args.fraction, 0.01)
    check_demo(args.demo_dir)
    start = time.perf_counter()
    arms = []
    for key in args.experiments:
        arms += [a for a in EXPERIMENTS[key]['arms'] if a not in arms]
    runs = [Run(arm, seed, args) for seed in args.seeds for arm in arms]
    if not args.report_only:
        from mmgpt.demo.shapes_world import write_short_answer_files

        if 'short_answers' in arms:
            counts = write_short_answer_files(os.path.join(args.demo_dir, 'data'),
                                              os.path.join(args.work_dir, 'short_answers'))
            print(f'short-answer block: {counts}', flush=True)
        run_all(args, runs, load_items(args))
    missing = [run.name for run in runs if not run.done()]
    if missing:
        raise SystemExit(f'no metrics for {", ".join(missing)}: run without --report-only')
    summary = summarize_runs(args, runs, load_items(args))
    atomic_write_bytes(json.dumps(summary, indent=1).encode(),
                       os.path.join(args.work_dir, 'results.json'))
    plots = []
    for key in args.experiments:
        for kind, plot in (('loss', lambda p, k=key: plot_losses(args, runs, k, p)),
                           ('bars', lambda p, k=key: plot_bars(summary, k, p))):
            path = os.path.join(args.work_dir, f'experiment_{key}_{kind}.png')
            plot(path)
            plots.append(path)
    blocks = report_blocks(summary)
    report = '\n\n'.join(f'## {name}\n\n{body}' for name, body in blocks.items())
    atomic_write_bytes((report + '\n').encode(), os.path.join(args.work_dir, 'report.md'))
    if args.docs:
        rewrite_blocks(args.docs, blocks)
        images = os.path.join(os.path.dirname(os.path.abspath(args.docs)), 'images')
        os.makedirs(images, exist_ok=True)
        for path in plots:
            shutil.copyfile(path, os.path.join(images, os.path.basename(path)))
    print(report)
    print(f'\n{len(runs)} runs summarised in {(time.perf_counter() - start) / 60:.1f} min '
          f'(training {summary["train_s_total"] / 60:.1f} min in all); results in '
          f'{os.path.join(args.work_dir, "results.json")}')


if __name__ == '__main__':
    main()
