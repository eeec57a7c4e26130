"""The predict mode: data samples in, answers out, the same text as the chat engine."""
from mmengine.structures import BaseDataElement
from PIL import Image

from mmgpt.inference import ChatEngine, GenerationOptions
from mmgpt.testing import (
    build_tiny,
    image_sensitive_tiny,
    tiny_model_cfg,
)
from mmgpt.utils.image import build_image_transform


def _model():
    return image_sensitive_tiny(generation_cfg=dict(max_new_tokens=6))


def _sample(transform, question, image=None, history=(), id=0):
    turns = [dict(instruction=q, input='', response=a) for q, a in history]
    turns.append(dict(instruction=question, input='', response=None))
    sample = BaseDataElement(metainfo=dict(
        id=id, references=['x'], conversation=dict(image='img.png' if image else None,
                                                   turns=turns)))
    if image is not None:
        sample.image = transform(image)
    return sample


def test_predict_matches_chat_engine_and_batching():
    model = _model()
    transform = build_image_transform(tiny_model_cfg()['vision_encoder'])
    red = Image.new('RGB', (40, 40), (200, 10, 10))
    blue = Image.new('RGB', (40, 40), (10, 10, 220))
    samples = [_sample(transform, 'What color is it?', red, id='a'),
               _sample(transform, 'Say hello to me please.', id='b'),
               _sample(transform, 'And the shape?', blue, history=[('Color?', 'Blue.')],
                       id='c')]
    batched = model(mode='predict', data_samples=samples)
    single = [model(mode='predict', data_samples=[s])[0] for s in samples]
    assert [o.id for o in batched] == ['a', 'b', 'c']
    assert [o.pred_text for o in batched] == [o.pred_text for o in single]
    assert batched[0].references == ['x'] and 'conversation' not in batched[0]
    assert batched[0].prompt.startswith('<BOS>') and '<image>' in batched[0].prompt
    assert '<image>' not in batched[1].prompt

    # the chat engine asks the same prompt and gets the same answer
    engine = ChatEngine(model, transform)
    options = GenerationOptions(max_new_tokens=6)
    conv = engine.new_conversation()
    conv.add_image(red)
    assert engine.ask(conv, 'What color is it?', options) == batched[0].pred_text
    assert conv.last_prompt == batched[0].prompt
    conv = engine.new_conversation()
    conv.add_image(blue)
    conv.turns.append(dict(instruction='Color?', input='', response='Blue.',
                           image=conv.pending_image))
    conv.pending_image = None
    assert engine.ask(conv, 'And the shape?', options) == batched[2].pred_text
    assert engine.ask(engine.new_conversation(), 'Say hello to me please.',
                      options) == batched[1].pred_text


def test_generation_options_come_from_the_config():
    model = build_tiny(generation_cfg=dict(max_new_tokens=3))
    transform = build_image_transform(tiny_model_cfg()['vision_encoder'])
    seen = []
    generate = model.lang_encoder.generate

    def spy(*args, **kwargs):
        seen.append(kwargs)
        return generate(*args, **kwargs)

    model.lang_encoder.generate = spy
    out = model(mode='predict', data_samples=[_sample(transform, 'Hi there')])[0]
    assert seen[0]['max_new_tokens'] == 3 and seen[0]['do_sample'] is False
    assert isinstance(out.pred_text, str) and out.id == 0
