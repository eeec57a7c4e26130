"""tools/export.py: peft adapter and merged exports reproduce the tuned model's logits."""
import importlib.util
import json
import os

import open_clip
import pytest
import torch
from mmengine import Config
from open_flamingo import create_model_and_transforms
from open_flamingo.src.flamingo_lm import FlamingoLMMixin
from peft import LoraConfig, PeftModel, inject_adapter_in_model, set_peft_model_state_dict
from safetensors.torch import load_file

from mmgpt.engine import get_rng_state
from mmgpt.models import save_weights_file
from mmgpt.registry import MODELS
from mmgpt.testing import TINY_MODEL_CONFIG, build_tiny, open_gates, randomize_lora, vl_prompt
from mmgpt.utils.fileio import atomic_write_bytes

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location('export_tool',
                                               os.path.join(REPO, 'tools', 'export.py'))
export_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(export_tool)


def _tuned(**overrides):
    model = build_tiny(**overrides)
    open_gates(model)
    randomize_lora(model)
    return model


def _logits(model, ids, image):
    with torch.no_grad():
        return model.logits(ids, images=image)


@pytest.fixture
def inputs():
    torch.manual_seed(7)
    return torch.randn(1, 3, 32, 32)


def test_peft_export_round_trip_gives_identical_logits(tmp_path, inputs):
    tuned = _tuned()
    ckpt = str(tmp_path / 'lora.safetensors')
    save_weights_file(tuned.state_dict(), ckpt)
    out = tmp_path / 'peft'
    export_tool.main([TINY_MODEL_CONFIG, ckpt, '--to', 'peft', str(out)])
    assert sorted(os.listdir(out)) == ['adapter_config.json', 'adapter_model.safetensors',
                                       'export.json']
    adapter = load_file(str(out / 'adapter_model.safetensors'))
    assert ('base_model.model.model.layers.3.gated_cross_attn_layer.ff.3.lora_B.weight'
            in adapter) and len(adapter) == len(tuned.state_dict())
    ids, ref = vl_prompt(tuned), _logits(tuned, vl_prompt(tuned), inputs)

    # peft onto the same language model, without a wrapper
    base = build_tiny(lora=None)
    open_gates(base)
    assert not torch.allclose(_logits(base, ids, inputs), ref, atol=1e-3)
    inject_adapter_in_model(LoraConfig.from_pretrained(str(out)), base.lang_encoder)
    result = set_peft_model_state_dict(base.lang_encoder, adapter)
    assert not result.unexpected_keys
    torch.testing.assert_close(_logits(base, ids, inputs), ref, rtol=0, atol=1e-5)

    # and as a PeftModel around it
    base = build_tiny(lora=None)
    open_gates(base)
    peft_lm = PeftModel.from_pretrained(base.lang_encoder, str(out))
    base._condition_on_images(inputs)
    with torch.no_grad():
        logits = peft_lm(input_ids=ids).logits
    base.lang_encoder.clear_conditioned_layers()
    torch.testing.assert_close(logits, ref, rtol=0, atol=1e-5)


def test_peft_export_refuses_weights_that_are_not_lora(tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(f"_base_ = [{TINY_MODEL_CONFIG!r}]\n"
                   "model = dict(unfrozen=[r'perceiver\\.latents'])\n")
    model = build_tiny(unfrozen=[r'perceiver\.latents'])
    ckpt = str(tmp_path / 'w.safetensors')
    save_weights_file(model.state_dict(), ckpt)
    with pytest.raises(SystemExit, match=r'not LoRA.*perceiver\.latents.*--to merged'):
        export_tool.main([str(cfg), ckpt, '--to', 'peft', str(tmp_path / 'out')])
    assert not (tmp_path / 'out').exists()
    assert [p for p in os.listdir(tmp_path) if p.startswith('.export-')] == []


#: The tiny model at open_flamingo's own sizes (its create_model_and_transforms has no
#: size arguments), with the gates and the perceiver latents trained besides the LoRA.
OPEN_FLAMINGO_SIZED = '''_base_ = [{base!r}]
model = dict(cross_attn=None, perceiver=None, unfrozen=[r'_gate$', r'perceiver\\.latents'])
'''


@pytest.fixture
def merged_export(tmp_path):
    """A tuned open_flamingo-sized tiny model, its checkpoint and its merged export."""
    cfg = tmp_path / 'tiny_of.py'
    cfg.write_text(OPEN_FLAMINGO_SIZED.format(base=TINY_MODEL_CONFIG))
    torch.manual_seed(0)
    tuned = MODELS.build(Config.fromfile(str(cfg)).model).eval()
    open_gates(tuned)
    randomize_lora(tuned)
    with torch.no_grad():
        tuned.flamingo.perceiver.latents.add_(0.5)
    ckpt = str(tmp_path / 'tuned.safetensors')
    save_weights_file(tuned.state_dict(), ckpt)
    out = tmp_path / 'merged'
    torch.manual_seed(0)  # the frozen base of this random model: the same as `tuned`'s
    export_tool.main([str(cfg), ckpt, '--to', 'merged', str(out)])
    return tuned, out


def test_merged_export_loads_in_plain_open_flamingo(merged_export, inputs, monkeypatch):
    tuned, out = merged_export
    info = json.loads((out / 'export.json').read_text())
    assert info['open_flamingo_compatible'] and info['vision_in_checkpoint']
    args = info['create_model_and_transforms']
    open_clip.add_model_config(str(out / info['open_clip_config']))
    model, _, tokenizer = create_model_and_transforms(
        args['clip_vision_encoder_path'], args['clip_vision_encoder_pretrained'],
        str(out / args['lang_encoder_path']), str(out / args['tokenizer_path']),
        cross_attn_every_n_layers=args['cross_attn_every_n_layers'], use_local_files=True)
    state = torch.load(out / 'checkpoint.pt', weights_only=True)
    assert not any('lora' in k for k in state)
    result = model.load_state_dict(state, strict=False)  # OpenFlamingo's own usage
    assert result.unexpected_keys == []
    # what it does not fill came from lang_model/ (or is an alias of what it filled)
    assert not [k for k in result.missing_keys if k.startswith(('perceiver.', 'vision_encoder.'))
                or '.gated_cross_attn_layer.' in k]
    assert tokenizer.convert_tokens_to_ids('<image>') == tuned.media_token_id
    ids = vl_prompt(tuned)
    with torch.no_grad():
        logits = model.eval()(vision_x=inputs[:, None, None], lang_x=ids,
                              attention_mask=torch.ones_like(ids)).logits
    ref = _logits(tuned, ids, inputs)
    assert not torch.allclose(_logits(build_tiny(cross_attn=None, perceiver=None), ids, inputs),
                              ref, atol=1e-3)
    torch.testing.assert_close(logits, ref, rtol=0, atol=1e-5)

    # generate(): open_flamingo 2.0.1 + transformers 5 needs the one fix docs/export.md
    # gives (attention_mask optional); then its cached decoding matches our uncached logits
    with pytest.raises(TypeError, match='attention_mask'):
        model.generate(vision_x=inputs[:, None, None], lang_x=ids,
                       attention_mask=torch.ones_like(ids), max_new_tokens=2)
    model.lang_encoder.clear_conditioned_layers()
    model.lang_encoder._use_cached_vision_x = False
    original = FlamingoLMMixin.forward
    monkeypatch.setattr(FlamingoLMMixin, 'forward', lambda self, input_ids=None,
                        attention_mask=None, **kw: original(self, input_ids, attention_mask, **kw))
    with torch.no_grad():
        out = model.generate(vision_x=inputs[:, None, None], lang_x=ids,
                             attention_mask=torch.ones_like(ids), max_new_tokens=6,
                             output_scores=True, return_dict_in_generate=True)
    seq = out.sequences
    for step, scores in enumerate(out.scores):
        expected = _logits(tuned, seq[:, :ids.shape[1] + step], inputs)[:, -1]
        torch.testing.assert_close(scores, expected, rtol=0, atol=1e-5)


def test_merged_export_loads_back_into_mmgpt_without_lora(merged_export, inputs, tmp_path):
    tuned, out = merged_export
    lm = str(out / 'lang_model')
    model = build_tiny(cross_attn=None, perceiver=None, lora=None, lang_model=dict(path=lm),
                       tokenizer=dict(type='pretrained', path=lm),
                       pretrained=str(out / 'checkpoint.pt'))
    ids = vl_prompt(tuned)
    torch.testing.assert_close(_logits(model, ids, inputs), _logits(tuned, ids, inputs),
                               rtol=0, atol=1e-5)


def _training_checkpoint(state):
    """What MMEngine's Runner + MMGPTCheckpointHook write (weights_only loadable)."""
    return {'meta': {'iter': 16, 'epoch': 0, 'cfg': 'model = dict(...)'}, 'state_dict': state,
            'message_hub': {'log_scalars': {}, 'runtime_info': {'iter': 16}},
            'optimizer': {'state': {}, 'param_groups': [{'lr': 1e-5, 'params': []}]},
            'param_schedulers': [{'last_epoch': 16}], 'rng_state': get_rng_state()}


@pytest.mark.parametrize('layout', ['training_pth', 'ddp_prefixed_pth', 'safetensors'])
def test_export_reads_every_checkpoint_layout(tmp_path, layout):
    tuned = _tuned()
    state = tuned.state_dict()
    if layout == 'safetensors':
        path = str(tmp_path / 'mmgpt_lora.safetensors')
        save_weights_file(state, path)
    else:
        if layout == 'ddp_prefixed_pth':
            state = {'module.' + k: v for k, v in state.items()}
        path = str(tmp_path / 'iter_16.pth')
        torch.save(_training_checkpoint(state), path)
    out = tmp_path / 'peft'
    info = export_tool.main([TINY_MODEL_CONFIG, path, '--to', 'peft', str(out)])
    assert info['source']['checkpoint_layout'] == 'mmgpt'
    adapter = load_file(str(out / 'adapter_model.safetensors'))
    name = ('flamingo.lang_encoder.model.layers.2.decoder_layer.self_attn.v_proj.lora_B'
            '.default.weight')
    assert torch.equal(adapter['base_model.model.model.layers.2.decoder_layer.self_attn.v_proj'
                               '.lora_B.weight'], tuned.state_dict()[name])


def test_export_refuses_a_checkpoint_of_another_config_naming_the_keys(tmp_path):
    other = build_tiny(lora=dict(r=16, alpha=16, dropout=0.0,
                                 target_modules=['q_proj', 'v_proj', 'to_q', 'ff.1']))
    path = str(tmp_path / 'other.safetensors')
    save_weights_file(other.state_dict(), path)
    with pytest.raises(SystemExit) as err:
        export_tool.main([TINY_MODEL_CONFIG, path, '--to', 'merged', str(tmp_path / 'out')])
    message = str(err.value)
    assert 'missing key(s)' in message and path in message
    assert 'layers.0.decoder_layer.self_attn.k_proj.lora_A.default.weight' in message
    assert not (tmp_path / 'out').exists()


def test_export_refuses_a_checkpoint_of_other_sizes_naming_the_shapes(tmp_path):
    other = build_tiny(lora=dict(r=8, alpha=8, dropout=0.0))
    path = str(tmp_path / 'r8.safetensors')
    save_weights_file(other.state_dict(), path)
    with pytest.raises(SystemExit, match=r'42 shape\(s\) differ: .*lora_A\.default\.weight '
                                         r'\(8, 64\) \(model: \(16, 64\)\)'):
        export_tool.main([TINY_MODEL_CONFIG, path, '--to', 'peft', str(tmp_path / 'out')])


def test_export_will_not_overwrite_without_asking(tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    atomic_write_bytes(b'x', str(out / 'keep.txt'))
    with pytest.raises(SystemExit):
        export_tool.parse_args([TINY_MODEL_CONFIG, 'w.pth', '--to', 'peft', str(out)])
    assert export_tool.parse_args([TINY_MODEL_CONFIG, 'w.pth', '--to', 'peft', str(out),
                                   '--overwrite']).out_dir == str(out)
