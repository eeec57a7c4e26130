"""Print the model's answers to fixed prompts during training."""
from __future__ import annotations

import contextlib

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmgpt.inference import ChatEngine, GenerationOptions
from mmgpt.registry import HOOKS

__all__ = ['EvaluateChatHook']


@HOOKS.register_module()
class EvaluateChatHook(Hook):
    """Answer fixed prompts with the chat engine before training, every N iterations and
    at the end, and log the answers (main process only).

    Generation is greedy, under ``no_grad`` and in eval mode, so it neither touches the
    accumulated gradients nor draws random numbers: a run with this hook trains exactly
    like one without it.

    Args:
        prompts (list[dict]): ``dict(question=..., image=<path, optional>)`` each.
        every_n_iters (int): Interval in iterations. Defaults to 1600.
        max_new_tokens (int): Answer length limit. Defaults to 64.
    """

    priority = 'LOW'

    def __init__(self, prompts: list, every_n_iters: int = 1600, max_new_tokens: int = 64):
        if not prompts or any('question' not in p for p in prompts):
            raise ValueError('EvaluateChatHook needs prompts=[dict(question=..., image=...)]')
        self.prompts = [dict(p) for p in prompts]
        self.every_n_iters = every_n_iters
        self.max_new_tokens = max_new_tokens
        self._engine = None

    def _engine_for(self, runner):
        if self._engine is None:
            model = runner.model.module if is_model_wrapper(runner.model) else runner.model
            # the model's template and image preprocessing; sets model.eval() (answers()
            # restores the mode)
            self._engine = ChatEngine(model)
        return self._engine

    def answers(self, runner) -> list[str]:
        """Generate one answer per prompt (restores the model's train/eval mode)."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        was_training = model.training  # ChatEngine puts the model in eval mode
        engine = self._engine_for(runner)
        options = GenerationOptions(max_new_tokens=self.max_new_tokens)
        dtype = getattr(model, 'frozen_dtype', None)  # the model's declared argument
        device = next(engine.model.parameters()).device.type
        autocast = (torch.autocast(device, dtype=getattr(torch, dtype)) if dtype
                    else contextlib.nullcontext())
        out = []
        try:
            with torch.no_grad(), autocast:
                for prompt in self.prompts:
                    conv = engine.new_conversation()
                    if prompt.get('image'):
                        conv.add_image(prompt['image'])
                    out.append(engine.ask(conv, prompt['question'], options))
        finally:
            engine.model.train(was_training)
        return out

    def _log(self, runner, iteration: int) -> None:
        if not is_main_process():
            return
        for prompt, answer in zip(self.prompts, self.answers(runner)):
            image = f" [{prompt['image']}]" if prompt.get('image') else ''
            runner.logger.info(f"chat @ iter {iteration}{image} Q: {prompt['question']!r} "
                               f'A: {answer!r}')

    def before_train(self, runner) -> None:
        """Answers of the starting (or resumed) weights."""
        self._log(runner, runner.iter)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Answers every ``every_n_iters`` iterations."""
        if self.every_n_train_iters(runner, self.every_n_iters):
            self._log(runner, runner.iter + 1)

    def after_train(self, runner) -> None:
        """Answers of the final weights."""
        self._log(runner, runner.iter)
