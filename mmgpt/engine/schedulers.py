"""Parameter schedulers whose state a weights-only checkpoint can hold."""
from __future__ import annotations

from mmengine.optim import OneCycleLR

from mmgpt.registry import PARAM_SCHEDULERS

__all__ = ['CheckpointableOneCycleLR']


@PARAM_SCHEDULERS.register_module()
class CheckpointableOneCycleLR(OneCycleLR):
    """MMEngine's ``OneCycleLR`` without the bound method in its state dict.

    ``OneCycleLR.state_dict()`` holds ``anneal_func`` (a bound method), which pickles
    through ``getattr`` and so cannot be read back with ``torch.load(weights_only=True)``:
    resume fails with ``Unsupported global: GLOBAL getattr``. The method is rebuilt from
    ``anneal_strategy`` in ``__init__``, so it is left out of the saved state; the schedule
    is the same.
    """

    def state_dict(self) -> dict:
        """The scheduler state, minus ``anneal_func``."""
        state = super().state_dict()
        state.pop('anneal_func', None)
        return state
