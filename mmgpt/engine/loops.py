"""An epoch-based train loop that resumes in the middle of an epoch."""
from __future__ import annotations

import logging

from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

from mmgpt.registry import LOOPS

from .training_state import set_rng_state

__all__ = ['ResumableEpochBasedTrainLoop']


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that resumes at the exact iteration with the same data.

    MMEngine's epoch loop restarts the current epoch from its first batch after a
    resume, so a mid-epoch checkpoint (the paper trains one epoch) would repeat data;
    its iteration loop needs ``max_iters``, which depends on the data and the world
    size. This loop keeps epochs (``max_epochs=1`` is one pass, whatever the number of
    GPUs) and, when resumed at iteration ``k`` of an epoch, draws and drops the first
    ``k`` batches of that epoch before training, so the sampler, the data workers and
    any random transform are in the state the uninterrupted run had. Only then, before
    the next batch is drawn, does it restore the RNG state saved with the checkpoint
    (skipping consumes random numbers in the main process when ``num_workers=0``).

    The skip loads the skipped samples; it costs data-loading time, not training time.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._resume_rng_state = None

    def set_resume_rng_state(self, state: dict) -> None:
        """Keep an RNG state to restore once the resumed epoch has skipped its batches.

        Args:
            state (dict): As saved by :func:`mmgpt.engine.get_rng_state`.
        """
        self._resume_rng_state = state

    def run(self):
        """Train; first tell the optimizer wrapper where accumulation windows fall.

        MMEngine's ``Runner`` does this before the loop, its ``FlexibleRunner`` (DeepSpeed,
        FSDP) does not: there, the last partial window of the epoch would never be
        stepped and its loss factor would be wrong. Doing it twice is harmless.
        """
        wrapper = self.runner.optim_wrapper
        if hasattr(wrapper, 'initialize_count_status'):
            wrapper.initialize_count_status(self.runner.model, self._iter, self._max_iters)
        return super().run()

    def run_epoch(self) -> None:
        """Iterate one epoch, skipping the batches trained before a resume."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        skip = self._iter - self._epoch * len(self.dataloader)
        if skip > len(self.dataloader):
            raise ValueError(
                f'resumed at iteration {self._iter} of epoch {self._epoch}, but an epoch has '
                f'{len(self.dataloader)} iterations here: resume with the number of GPUs and '
                'the data of the interrupted run')
        if skip > 0:
            print_log(f'Resuming epoch {self._epoch} at batch {skip}: skipping {skip} batches',
                      logger='current', level=logging.INFO)
        batches = iter(self.dataloader)
        for _ in range(skip):
            next(batches)
        if self._resume_rng_state is not None:
            set_rng_state(self._resume_rng_state)
            self._resume_rng_state = None
        for idx, data_batch in enumerate(batches, start=max(skip, 0)):
            self.run_iter(idx, data_batch)
            if self.stop_training:
                break
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
