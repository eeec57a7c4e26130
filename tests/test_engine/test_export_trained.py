"""tools/export.py on checkpoints that training really wrote (tiny run, the demo)."""
import json
import os
import subprocess
import sys

import pytest
import torch
from engine_fixtures import REPO, TINY_CONFIG, run, train_cmd, write_data_tree
from mmengine import Config
from safetensors.torch import load_file

from mmgpt.inference import ChatEngine
from mmgpt.models import load_checkpoint
from mmgpt.registry import MODELS
from mmgpt.templates import chat_prompt, encode_segments
from mmgpt.utils.image import build_image_transform

EXPORT = str(REPO / 'tools' / 'export.py')


def _export(config, ckpt, layout, out, *args, cwd):
    proc = subprocess.run([sys.executable, EXPORT, config, str(ckpt), '--to', layout, str(out),
                           *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / 'export.json').read_text())


@pytest.mark.slow  # trains the tiny model for 21 iterations and exports twice: ~90 s here
def test_export_of_a_training_run_checkpoints(tmp_path):
    write_data_tree(tmp_path, per_dataset=3)
    run(train_cmd(TINY_CONFIG, tmp_path / 'wd'), cwd=tmp_path)
    for ckpt in sorted((tmp_path / 'wd').glob('iter_*.pth')):  # iter_16 and the last
        out = tmp_path / f'peft_{ckpt.stem}'
        info = _export(TINY_CONFIG, ckpt, 'peft', out, cwd=tmp_path)
        assert info['source']['checkpoint_layout'] == 'mmgpt'
        trained = torch.load(ckpt, weights_only=True)['state_dict']
        adapter = load_file(str(out / 'adapter_model.safetensors'))
        assert len(adapter) == len(trained)
        for key, value in trained.items():
            name = 'base_model.model.' + key[len('flamingo.lang_encoder.'):].replace(
                '.default.weight', '.weight')
            assert torch.equal(adapter[name], value), key


# uses the trained demo (trains it if absent, ~10 min); ~60 s itself
def test_merged_export_of_the_demo_gives_the_same_logits_and_answer(trained_demo, tmp_path):
    demo = trained_demo
    config = str(REPO / 'configs' / 'demo' / 'stage2_mmgpt_lora.py')
    paths = [f'model.pretrained={demo}/stage1/openflamingo_tiny.safetensors',
             f'model.vision_encoder.pretrained={demo}/stage0/clip_tiny.safetensors']
    ckpt = os.path.join(demo, 'stage2', 'mmgpt_lora.safetensors')
    out = tmp_path / 'merged'
    info = _export(config, ckpt, 'merged', out, '--cfg-options', *paths, cwd=tmp_path)
    assert info['vision_in_checkpoint']
    assert not info['open_flamingo_compatible']  # the demo's sizes are not open_flamingo's
    assert any('cross_attn' in why for why in info['open_flamingo_incompatible_because'])

    cfg = Config.fromfile(config)
    cfg.merge_from_dict({p.split('=')[0]: p.split('=')[1] for p in paths})
    tuned = MODELS.build(cfg.model).eval()
    load_checkpoint(tuned, ckpt)
    lm = str(out / 'lang_model')
    merged_cfg = cfg.model.to_dict()
    merged_cfg.update(lora=None, pretrained=str(out / 'checkpoint.pt'),
                      lang_model=dict(path=lm), tokenizer=dict(type='pretrained', path=lm),
                      vision_encoder=dict(merged_cfg['vision_encoder'], pretrained=None))
    merged = MODELS.build(merged_cfg).eval()
    assert not any('lora' in n for n, _ in merged.named_parameters())

    image = os.path.join(demo, 'data', 'images', 'test', '00000.png')
    transform = build_image_transform(cfg.model.vision_encoder)
    engines = [ChatEngine(m, transform) for m in (tuned, merged)]
    conv = engines[0].new_conversation()
    conv.add_image(image)
    turns = [dict(instruction='How many shapes are in the image?', input='', response=None,
                  image=conv.pending_image)]
    ids, _ = encode_segments(chat_prompt(dict(image=image, turns=turns)), tuned.tokenizer)
    pixels = transform(conv.pending_image)[None, None, None]
    with torch.no_grad():
        a = tuned.logits(torch.tensor([ids]), images=pixels)
        b = merged.logits(torch.tensor([ids]), images=pixels)
    print('demo merged vs LoRA logits, max abs diff:', (a - b).abs().max().item())
    torch.testing.assert_close(b, a, rtol=0, atol=5e-5)  # measured 7.9e-6 (fp32, hidden 128)
    answers = []
    for engine in engines:
        conv = engine.new_conversation()
        conv.add_image(image)
        answers.append(engine.ask(conv, 'How many shapes are in the image?'))
    assert answers[0] == answers[1] and answers[0]
