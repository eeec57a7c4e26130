"""Upstream internals mmgpt relies on, pinned by a hash of their source.

mmgpt prefers public extension points (Runner and Hook methods, ``CheckpointLoader``).
Where none exists it overrides or calls an upstream method whose behaviour it depends
on; each such method is listed here with the sha256 (first 16 hex digits) of its source
in the pinned version and what to re-check when it changes. After an upgrade, a failure
here names the method: read its new source, re-check the listed mmgpt code, and update
the hash.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import re
from pathlib import Path

import pytest

#: (module, qualified name) -> (sha256[:16] of the source, what in mmgpt depends on it).
PINNED = {
    # MMEngine 0.10.7 -----------------------------------------------------------------
    ('mmengine.hooks', 'CheckpointHook._save_checkpoint_with_step'): (
        'cdbc1b54c7c88d95',
        'private; MMGPTCheckpointHook._save_checkpoint_with_step replaces it (crash-safe '
        'save): re-check its bookkeeping (keep_ckpt_ids, last_ckpt, message hub keys, '
        'filename_tmpl, the arguments of runner.save_checkpoint)'),
    ('mmengine.hooks', 'CheckpointHook.__init__'): (
        '0671bcaab2e02c4b',
        'the attributes MMGPTCheckpointHook reads (interval, max_keep_ckpts, '
        'keep_ckpt_ids, file_backend, out_dir, filename_tmpl, args, save_optimizer ...)'),
    ('mmengine.hooks', 'CheckpointHook.before_train'): (
        '88570c95d1e437f5', 'MMGPTCheckpointHook.before_train calls it after its checks'),
    ('mmengine.runner', 'Runner.resume'): (
        '30cc2d3b4e1afabd',
        'MMGPTRunner.resume wraps it; it must load through self.load_checkpoint (which '
        'calls the after_load_checkpoint hook that restores the RNG state)'),
    ('mmengine.runner', 'Runner.load_or_resume'): (
        '9c653d074f921631', 'resume goes through Runner.resume (MMGPTRunner.resuming)'),
    ('mmengine.runner', 'Runner.build_dataloader'): (
        '5ba55eedc45e4f5f',
        'a static method that MMGPTRunner.build_dataloader overrides with an instance '
        'method (binding the pipeline to the model config); its loops call it on the runner'),
    ('mmengine.runner', 'Runner.wrap_model'): (
        '1b219f958f8a829f', 'MMGPTRunner.wrap_model (DDP with device_ids=None on CPU)'),
    ('mmengine.runner', 'Runner.setup_env'): (
        '9e3f15ea06d4415d', 'MMGPTRunner.setup_env (gloo process group on CPU first)'),
    ('mmengine.runner', 'EpochBasedTrainLoop.run_epoch'): (
        '5a9b993c3e9727d4',
        'ResumableEpochBasedTrainLoop.run_epoch replaces it (mid-epoch resume): re-check '
        'the hooks it calls, _iter/_epoch bookkeeping and stop_training'),
    # open_flamingo 2.0.1 -------------------------------------------------------------
    ('open_flamingo.src.flamingo_lm', 'FlamingoLMMixin.init_flamingo'): (
        '7c5442d871f48098',
        'MMGPTFlamingoLMMixin.init_flamingo replaces it (configurable block sizes): '
        're-check the attributes it sets (old_decoder_blocks, gated_cross_attn_layers, '
        'media_token_id, initialized_flamingo) and the media-caching flag'),
    ('open_flamingo.src.flamingo_lm', 'FlamingoLMMixin.forward'): (
        '173aaaf6f4c0b3d8',
        'MMGPTFlamingoLMMixin.forward replaces it (optional mask, language-only switch, '
        'reuse_conditioned_media instead of the private _use_cached_vision_x)'),
    ('open_flamingo.src.flamingo_lm', 'FlamingoLMMixin.is_conditioned'): (
        'fc213c9a08d67f78', 'MMGPTFlamingoLMMixin.forward calls it'),
    ('open_flamingo.src.flamingo_lm', 'FlamingoLMMixin.clear_conditioned_layers'): (
        'ee6694bca2a93878', 'MultiModalGPT.logits / generate clear the image state with it'),
    ('open_flamingo.src.flamingo_lm', 'FlamingoLayer.__init__'): (
        '57d16f645aaccd0b',
        'MMGPTFlamingoLayer reads vis_x, media_locations, use_cached_media, '
        'gated_cross_attn_layer, decoder_layer'),
    ('open_flamingo.src.flamingo_lm', 'FlamingoLayer.forward'): (
        '3d5b447df550f09e', 'MMGPTFlamingoLayer.forward replaces it (argument pass-through)'),
    ('open_flamingo.src.flamingo_lm', 'FlamingoLayer.condition_vis_x'): (
        'a784484a2c2811cf', 'MultiModalGPT._condition_on_images calls it'),
    ('open_flamingo.src.flamingo_lm', 'FlamingoLayer.condition_media_locations'): (
        'c1a6e7f26994fa26', 'MMGPTFlamingoLMMixin.forward calls it'),
    ('open_flamingo.src.flamingo_lm', 'FlamingoLayer.condition_use_cached_media'): (
        '68cdca574a6e498c', 'MMGPTFlamingoLMMixin.forward calls it (KV-cached generation)'),
    ('open_flamingo.src.flamingo', 'Flamingo.__init__'): (
        '965252edcfffb411',
        'MultiModalGPT builds Flamingo with a SimpleNamespace(visual=...) vision encoder '
        'and replaces its perceiver'),
    ('open_flamingo.src.helpers', 'GatedCrossAttentionBlock.forward'): (
        '7a3811b89b40197a', 'MMGPTFlamingoLayer.forward calls it with use_cached_media'),
}


def _source_hash(module: str, qualname: str) -> str:
    obj = importlib.import_module(module)
    for part in qualname.split('.'):
        obj = getattr(obj, part)
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]


@pytest.mark.parametrize('module,qualname', sorted(PINNED))
def test_upstream_method_is_the_one_mmgpt_was_written_against(module, qualname):
    expected, depends = PINNED[module, qualname]
    try:
        actual = _source_hash(module, qualname)
    except (ImportError, AttributeError) as err:
        pytest.fail(f'{module}.{qualname} is gone ({err}); mmgpt relies on it: {depends}')
    assert actual == expected, (
        f'{module}.{qualname} changed upstream (source hash {actual}, pinned {expected}). '
        f'mmgpt relies on it: {depends}. Read the new source, re-check that code, then '
        f'update the hash in tests/test_package/test_upstream_guards.py.')


def test_the_replaced_private_names_are_not_used_again():
    """``_accumulative_counts``, ``runner._resume``, ``_load_checkpoint`` and open_flamingo's
    ``_use_cached_vision_x`` were replaced by public ways; nothing in mmgpt uses them."""
    root = Path(__file__).resolve().parents[2] / 'mmgpt'
    code = '\n'.join(p.read_text() for p in root.rglob('*.py'))
    assert not re.search(r'\._use_cached_vision_x\s*=\s*(True|False)\s*$', code, re.M)
    assert not re.search(r'\._accumulative_counts|runner\._resume\b|import _load_checkpoint',
                         code)
