"""Mixed precision helpers, re-exported for the engine (they live in the bottom layer,
:mod:`mmgpt.utils.precision`, so that the model can cast its own frozen weights)."""
from mmgpt.utils.precision import cast_frozen_to, resolve_dtype

__all__ = ['cast_frozen_to', 'resolve_dtype']
