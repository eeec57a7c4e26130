"""mmgpt: MultiModal-GPT (OpenFlamingo + LoRA) instruction tuning on MMEngine."""
from .version import __version__

__all__ = ['__version__']
