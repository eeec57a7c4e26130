"""Registries of mmgpt, children of MMEngine's root registries.

Every component is registered with a decorator and built from a string ``type`` in a
config. ``default_scope='mmgpt'`` (set in ``configs/_base_/default_runtime.py``) lets
MMEngine's Runner find them; ``locations`` imports the modules lazily on first build.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import STRATEGIES as MMENGINE_STRATEGIES
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import Registry

__all__ = [
    'MODELS', 'TOKENIZERS', 'DATASETS', 'TRANSFORMS', 'DATA_SAMPLERS', 'FUNCTIONS', 'HOOKS',
    'LOOPS', 'METRICS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'MODEL_WRAPPERS', 'LOG_PROCESSORS',
    'OPTIMIZERS', 'OPTIM_WRAPPERS', 'PARAM_SCHEDULERS', 'RUNNERS', 'STRATEGIES', 'VISBACKENDS',
    'VISUALIZERS',
]

#: Models: the MultiModalGPT BaseModel and its parts.
MODELS = Registry('model', parent=MMENGINE_MODELS, locations=['mmgpt.models'])
#: Tokenizer builders (a local Hugging Face directory, or the project's tiny BPE).
TOKENIZERS = Registry('tokenizer', scope='mmgpt', locations=['mmgpt.tokenizer'])
#: Datasets: one per public annotation format, plus the joint wrapper.
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, locations=['mmgpt.datasets'])
#: Data transforms: load image, render template, tokenize with labels, pack.
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, locations=['mmgpt.datasets'])
#: Samplers: the joint vision-language + language-only sampler.
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMENGINE_DATA_SAMPLERS, locations=['mmgpt.datasets'])
#: Functions referenced from configs, such as the collate function.
FUNCTIONS = Registry('function', parent=MMENGINE_FUNCTIONS, locations=['mmgpt.datasets'])
#: Training hooks (trainable-only checkpoints, chat samples).
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['mmgpt.engine'])
#: Training loops.
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, locations=['mmgpt.engine'])
#: Metrics.
METRICS = Registry('metric', parent=MMENGINE_METRICS, locations=['mmgpt.evaluation'])
#: Optimizer wrapper constructors (parameter groups such as decay on the gates only).
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['mmgpt.engine'])
#: Model wrappers.
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, locations=['mmgpt.engine'])
#: Log processors.
LOG_PROCESSORS = Registry(
    'log_processor', parent=MMENGINE_LOG_PROCESSORS, locations=['mmgpt.engine'])
#: Runners (MMGPTRunner: CPU gloo set-up, strict trainable-only checkpoint loading).
RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS, locations=['mmgpt.engine'])
#: FlexibleRunner strategies (DeepSpeed ZeRO, FSDP) with trainable-only checkpoints.
STRATEGIES = Registry('strategy', parent=MMENGINE_STRATEGIES, locations=['mmgpt.engine'])
# Children of MMEngine's registries that mmgpt adds nothing to: with default_scope='mmgpt'
# the Runner looks in an 'mmgpt' child first and otherwise logs a warning on every build.
#: Optimizers (MMEngine's and torch's).
OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS)
#: Optimizer wrappers (OptimWrapper, AmpOptimWrapper).
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS)
#: Learning-rate schedulers (MMEngine's, and mmgpt.engine's CheckpointableOneCycleLR).
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS,
                            locations=['mmgpt.engine'])
#: Visualisation backends (local, TensorBoard, W&B).
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS)
#: Visualizers.
VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS)
