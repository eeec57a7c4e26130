"""COCOCaption equals pycocoevalcap's own COCOEvalCap on a fixture (needs Java)."""
import json
import shutil

import pytest
from mmengine.registry import init_default_scope

from mmgpt.registry import METRICS

pytestmark = pytest.mark.skipif(shutil.which('java') is None,
                                reason='pycocoevalcap runs its tokenizer in Java')

REFS = {
    1: ['A man riding a horse on a beach.', 'A person rides a brown horse by the sea.',
        'Man on horseback near the ocean.'],
    2: ['Two dogs play with a red ball in the grass.', 'Dogs playing fetch on a lawn.'],
    3: ['A bowl of fruit on a wooden table.', 'Apples and bananas in a bowl.',
        'A table with a fruit bowl.'],
}
PREDS = {1: 'a man rides a horse on the beach', 2: 'two dogs playing with a ball',
         3: 'a bowl of apples on a table'}


def coco_eval_scores(tmp_path, monkeypatch):
    """pycocoevalcap's COCOEvalCap.evaluate on the fixture, SPICE replaced (offline)."""
    import pycocoevalcap.eval as coco_eval
    from pycocotools.coco import COCO

    class NoSpice:
        def compute_score(self, gts, res):
            return 0.0, []

        def method(self):
            return 'SPICE'

    monkeypatch.setattr(coco_eval, 'Spice', NoSpice)
    ann = dict(images=[dict(id=i) for i in REFS], annotations=[
        dict(id=10 * i + k, image_id=i, caption=c)
        for i, caps in REFS.items() for k, c in enumerate(caps)],
        type='captions', info={}, licenses=[])
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(ann))
    coco = COCO(str(path))
    res = coco.loadRes([dict(image_id=i, caption=c) for i, c in PREDS.items()])
    evaluator = coco_eval.COCOEvalCap(coco, res)
    evaluator.params['image_id'] = res.getImgIds()
    evaluator.evaluate()
    return evaluator.eval


# about 20 s: Java starts twice (PTB tokenizer and METEOR) for each of the two scorers
@pytest.mark.slow
def test_caption_scores_equal_pycocoevalcap(tmp_path, monkeypatch):
    expected = coco_eval_scores(tmp_path, monkeypatch)
    init_default_scope('mmgpt')
    metric = METRICS.build(dict(type='COCOCaption'))
    metric.process({}, [dict(id=i, pred_text=p, references=REFS[i]) for i, p in PREDS.items()])
    out = metric.evaluate(len(PREDS))
    assert out['caption/n'] == 3
    for key in ('Bleu_1', 'Bleu_4', 'METEOR', 'ROUGE_L', 'CIDEr'):
        assert out[f'caption/{key}'] == pytest.approx(100 * expected[key], abs=1e-9), key
    assert 0 < out['caption/CIDEr']


def test_an_image_twice_is_an_error():
    init_default_scope('mmgpt')
    metric = METRICS.build(dict(type='COCOCaption', scorers=['bleu']))
    metric.process({}, [dict(id=1, pred_text='a', references=['a b']),
                        dict(id=1, pred_text='b', references=['a b'])])
    with pytest.raises(ValueError, match='image 1 was predicted twice'):
        metric.evaluate(2)
