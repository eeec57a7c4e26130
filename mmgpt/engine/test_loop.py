"""A test loop that saves every prediction as it comes and can continue a killed run."""
from __future__ import annotations

import glob
import json
import os
from collections.abc import Sequence

import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.runner import TestLoop, autocast
from mmengine.structures import BaseDataElement

from mmgpt.registry import LOOPS
from mmgpt.utils.fileio import atomic_write_bytes, sync_file

__all__ = ['PredictionTestLoop', 'prediction_key', 'read_predictions']


def prediction_key(sample: dict) -> str:
    """The key of a prediction: ``'<split>/<id>'`` (unique over a concatenated test set).

    Args:
        sample (dict): A data sample's metainfo or its ``to_dict()``.
    """
    return f"{sample.get('split', '')}/{sample.get('id', '')}"


def read_predictions(path: str) -> dict:
    """Predictions saved by :class:`PredictionTestLoop` (``path`` and its rank parts).

    A line cut by a kill (the last one of a file) is ignored; any other bad line is an
    error naming the file and line.

    Args:
        path (str): The predictions file.

    Returns:
        dict: ``{key: prediction dict}``.
    """
    found = {}
    for file in [path, *sorted(glob.glob(glob.escape(path) + '.rank*'))]:
        if not os.path.isfile(file):
            continue
        with open(file, encoding='utf-8') as f:
            lines = f.read().split('\n')
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                if number >= len(lines) - 1:  # the last line, cut by a kill
                    continue
                raise ValueError(f'{file}: line {number}: not a saved prediction ({e})') from None
            found[prediction_key(record)] = record
    return found


def _to_json(sample) -> dict:
    data = sample.to_dict() if isinstance(sample, BaseDataElement) else dict(sample)
    return {k: v for k, v in data.items() if not isinstance(v, torch.Tensor)}


@LOOPS.register_module()
class PredictionTestLoop(TestLoop):
    """MMEngine's ``TestLoop`` that writes predictions and reuses them on resume.

    Every batch's predictions are appended to ``predictions_file`` (one JSON object per
    line: the sample's fields, ``pred_text`` and ``prompt``), flushed and fsynced, so a
    killed run loses at most one batch. With ``resume=True`` the saved predictions are
    read back (``'<split>/<id>'`` keys) and a batch whose samples all have one is not
    run through the model again: its saved predictions go to the metrics. With several
    ranks each writes ``<predictions_file>.rank<r>`` and rank 0 joins them at the end.
    A progress bar with an ETA runs on rank 0.

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): The test dataloader.
        evaluator (Evaluator | dict | list): The metrics.
        fp16 (bool): Autocast. Defaults to False.
        predictions_file (str, optional): Where predictions go. Defaults to
            ``<work_dir>/predictions.jsonl``.
        resume (bool): Reuse the predictions already in the file. Defaults to False
            (the file is started afresh).
        progress (bool): Show the progress bar. Defaults to True.
    """

    def __init__(self, runner, dataloader, evaluator, fp16: bool = False,
                 predictions_file: str | None = None, resume: bool = False,
                 progress: bool = True):
        super().__init__(runner, dataloader, evaluator, fp16=fp16)
        self.predictions_file = predictions_file or os.path.join(runner.work_dir,
                                                                 'predictions.jsonl')
        self.resume = resume
        self.progress = progress
        self.saved: dict = {}
        self.reused = 0
        self._file = None
        self._bar = None

    def _own_file(self) -> str:
        rank, world = get_dist_info()
        return self.predictions_file if world == 1 else f'{self.predictions_file}.rank{rank}'

    def run(self) -> dict:
        """Run the test, saving (or reusing) predictions; returns the metrics."""
        rank, world = get_dist_info()
        self.saved = read_predictions(self.predictions_file) if self.resume else {}
        self.reused = 0
        folder = os.path.dirname(os.path.abspath(self.predictions_file))
        os.makedirs(folder, exist_ok=True)
        own = self._own_file()
        # Start this rank's file with what was read back (a line cut by the kill is
        # dropped), written whole before the old file is replaced; then append to it.
        lines = ''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in self.saved.values())
        atomic_write_bytes(lines.encode('utf-8'), own)
        self._file = open(own, 'a', encoding='utf-8')
        if self.progress and rank == 0:
            from tqdm import tqdm
            self._bar = tqdm(total=len(self.dataloader), desc='test', unit='batch',
                             dynamic_ncols=True)
        try:
            metrics = super().run()
        finally:
            self._file.close()
            if self._bar is not None:
                self._bar.close()
        if world > 1:
            barrier()
            if rank == 0:
                self._join(world)
        if self.resume:
            self.runner.logger.info(f'reused {self.reused} saved predictions from '
                                    f'{self.predictions_file}')
        return metrics

    def _join(self, world: int) -> None:
        parts = [f'{self.predictions_file}.rank{r}' for r in range(world)]
        joined = read_predictions(self.predictions_file)
        lines = ''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in joined.values())
        atomic_write_bytes(lines.encode('utf-8'), self.predictions_file)
        for part in parts:
            if os.path.isfile(part):
                os.remove(part)

    @torch.no_grad()
    def run_iter(self, idx, data_batch: Sequence[dict]) -> None:
        """Predict one batch (or reuse its saved predictions) and feed the metrics."""
        self.runner.call_hook('before_test_iter', batch_idx=idx, data_batch=data_batch)
        keys = [prediction_key(s.metainfo) for s in data_batch['data_samples']]
        if self.saved and all(k in self.saved for k in keys):
            outputs = [self.saved[k] for k in keys]
            self.reused += len(outputs)
        else:
            with autocast(enabled=self.fp16):
                outputs = self.runner.model.test_step(data_batch)
            for out in outputs:
                self._file.write(json.dumps(_to_json(out), ensure_ascii=False) + '\n')
            sync_file(self._file)
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook('after_test_iter', batch_idx=idx, data_batch=data_batch,
                              outputs=outputs)
        if self._bar is not None:
            self._bar.update(1)
