"""A ``CheckpointHook`` whose saves survive crashes and whose checkpoints resume exactly."""
from __future__ import annotations

import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook

from mmgpt.registry import HOOKS
from mmgpt.utils.fileio import atomic_replace, atomic_write_bytes

from ..resume import check_resume_schedule, checkpoint_pointer, schedule_meta
from ..training_state import get_rng_state, pack_message_hub, unpack_message_hub

__all__ = ['MMGPTCheckpointHook']


@HOOKS.register_module()
class MMGPTCheckpointHook(CheckpointHook):
    """Save trainable weights and the full training state, crash-safely.

    Differences from MMEngine's ``CheckpointHook`` (same arguments; ``by_epoch``
    defaults to, and must be, False):

    * The interval must be a multiple of the optimizer wrapper's
      ``accumulative_counts``: a checkpoint inside an accumulation window would lose
      the gradients accumulated so far, and the resumed run would differ.
    * Crash safety: MMEngine deletes the oldest checkpoint *before* writing the new
      one and writes both the checkpoint and ``last_checkpoint`` in place, so a crash
      mid-save can leave ``last_checkpoint`` naming a truncated or deleted file. Here
      the checkpoint is written under a temporary name, synced and renamed, then
      ``last_checkpoint`` is replaced atomically, and only then are old checkpoints
      removed (local disks; other file backends keep MMEngine's behaviour).
      ``last_checkpoint`` holds the path relative to the work dir, so a copied or moved
      work dir resumes from its own files (:mod:`mmgpt.engine.resume`).
    * The checkpoint's ``meta`` records the world size, batch size and iterations per
      epoch; a resume with other values stops with an error that says what changed.
    * The checkpoint also holds the python/numpy/torch RNG states; the message hub is
      stored as tensors so that loading needs no pickled classes (``weights_only``).
      On resume the RNG state is handed to the train loop, which restores it after
      it has skipped the batches already trained on.
    """

    priority = 'VERY_LOW'

    def __init__(self, *args, by_epoch: bool = False, **kwargs) -> None:
        """Same arguments as MMEngine's ``CheckpointHook``, saving by iteration by default."""
        super().__init__(*args, by_epoch=by_epoch, **kwargs)

    def before_train(self, runner) -> None:
        """Check the interval against the accumulation, then set up as MMEngine does."""
        counts = runner.cfg.get('optim_wrapper', {}).get('accumulative_counts')
        if counts is None:  # DeepSpeed accumulates inside its engine
            strategy_cfg = runner.cfg.get('strategy') or {}
            counts = strategy_cfg.get('gradient_accumulation_steps', 1)
        if self.interval > 0 and self.interval % counts != 0:
            suggestion = counts * max(1, self.interval // counts)
            raise ValueError(
                f'checkpoint interval {self.interval} is not a multiple of the optimizer '
                f'wrapper accumulative_counts={counts}; set default_hooks.checkpoint.'
                f'interval to a multiple of {counts} (e.g. {suggestion})')
        if self.by_epoch:
            raise ValueError('MMGPTCheckpointHook saves by iteration: set by_epoch=False')
        super().before_train(runner)

    @staticmethod
    def _schedule_meta(runner) -> dict:
        loader = getattr(getattr(runner, 'train_loop', None), 'dataloader', None)
        if loader is None:
            return {}
        return schedule_meta(getattr(runner, 'world_size', 1), getattr(loader, 'batch_size', None),
                             len(loader))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Add the RNG state and run shape; store the message hub as tensors."""
        checkpoint['rng_state'] = get_rng_state()
        checkpoint['message_hub'] = pack_message_hub(checkpoint['message_hub'])
        checkpoint.setdefault('meta', {}).update(self._schedule_meta(runner))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Check the run shape on resume, unpack the message hub, hand over the RNG state."""
        if getattr(runner, 'resuming', False) and 'meta' in checkpoint:  # MMGPTRunner
            check_resume_schedule(checkpoint['meta'], self._schedule_meta(runner),
                                  getattr(runner, 'resume_checkpoint', None) or 'the checkpoint')
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = unpack_message_hub(checkpoint['message_hub'])
        if getattr(runner, 'resuming', False) and 'rng_state' in checkpoint:  # MMGPTRunner
            loop = runner.train_loop
            if hasattr(loop, 'set_resume_rng_state'):
                loop.set_resume_rng_state(checkpoint['rng_state'])

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        """Save under a temporary name, rename, point ``last_checkpoint``, then prune.

        Overrides a private method of MMEngine's ``CheckpointHook`` (it has no public
        extension point for how a checkpoint is written); its source is pinned by
        tests/test_package/test_upstream_guards.py.
        """
        if not isinstance(self.file_backend, LocalBackend):
            super()._save_checkpoint_with_step(runner, step, meta)
            return
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        outdated = []
        if self.max_keep_ckpts > 0 and (not self.keep_ckpt_ids
                                        or self.keep_ckpt_ids[-1] != step):
            # The deque has maxlen=max_keep_ckpts: pop by hand so that the file is
            # deleted, but only once the new checkpoint is safely in place.
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        tmp_path = osp.join(self.out_dir, f'.{filename}.tmp')
        try:
            runner.save_checkpoint(
                self.out_dir, osp.basename(tmp_path), self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta, by_epoch=self.by_epoch, backend_args=self.backend_args,
                **self.args)
        except BaseException:
            if is_main_process() and osp.exists(tmp_path):
                os.remove(tmp_path)
            raise
        if not is_main_process():
            return
        atomic_replace(tmp_path, self.last_ckpt)
        # Relative only for runners that resolve it (MMGPTRunner); MMEngine's own
        # find_latest_checkpoint (FlexibleRunner) reads the pointer as a path from the cwd.
        relative = getattr(runner, 'resolves_relative_checkpoint_pointer', False)
        pointer = checkpoint_pointer(self.last_ckpt, runner.work_dir) if relative else \
            self.last_ckpt
        atomic_write_bytes(pointer.encode(), osp.join(runner.work_dir, 'last_checkpoint'))
        for old_step in outdated:
            old = osp.join(self.out_dir, self.filename_tmpl.format(old_step))
            if osp.isfile(old):
                os.remove(old)
