"""The demo's evaluation: history turns are given as such, and answers are scored."""
import pytest
import torch
from PIL import Image

from mmgpt.demo.evaluate import answer_item, evaluate_items
from mmgpt.inference import ChatEngine, GenerationOptions
from mmgpt.testing import build_tiny, tiny_model_cfg
from mmgpt.utils.image import build_image_transform


@pytest.fixture(scope='module')
def engine():
    return ChatEngine(build_tiny(), build_image_transform(tiny_model_cfg()['vision_encoder']))


def _item(tmp_path):
    Image.new('RGB', (48, 48), 'red').save(tmp_path / 'im.png')
    return dict(task='dialog', image='im.png', turns=['What shape is it?', 'What color is it?'],
                history_answers=['It is a circle.'], answer='It is red.', accept=['red'],
                choices=['red', 'green', 'blue', 'yellow'],
                choice_groups=[['red', 'green', 'blue', 'yellow']], chance=0.25,
                case_sensitive=False)


def test_dialog_history_is_rendered_with_its_reference_answer(engine, tmp_path, monkeypatch):
    prompts = []
    real = engine.model.generate

    def spy(input_ids, images=None, **kw):
        prompts.append(engine.tokenizer.decode(input_ids[0]))
        assert images is not None and images.shape[1] == 1  # the image of the first turn
        return real(input_ids, images=images, **kw)

    monkeypatch.setattr(engine.model, 'generate', spy)
    answer_item(engine, _item(tmp_path), str(tmp_path), GenerationOptions(max_new_tokens=3))
    text = prompts[0]
    assert text.index('<image>') < text.index('What shape is it?') < \
        text.index('It is a circle.') < text.index('What color is it?')
    assert text.rstrip().endswith('### Response:')


def test_answers_are_scored(engine, tmp_path, monkeypatch):
    item = _item(tmp_path)
    for reply, correct, strict in (('It is red.', True, True), ('Red!', True, False),
                                   ('It is blue.', False, False),
                                   ('red or blue', False, False)):
        ids = engine.tokenizer.encode(reply, add_special_tokens=False)
        monkeypatch.setattr(engine.model, 'generate',
                            lambda *a, _ids=ids, **k: torch.tensor([_ids]))
        [result] = evaluate_items(engine, [item], str(tmp_path))
        assert (result['answer'], result['correct'], result['strict']) == \
            (reply, correct, strict), reply
