"""Caption metrics (COCO Karpathy test, Flickr30k Karpathy test) by pycocoevalcap.

pycocoevalcap is the COCO caption team's own scorer (BLEU, METEOR, ROUGE-L, CIDEr,
SPICE) that the captioning literature reports, so the numbers here are its numbers: the
references and predictions go through its PTB tokenizer and its scorers, exactly as its
``COCOEvalCap.evaluate`` does. (mmpretrain's ``COCOCaption`` metric wraps the same
package through a temporary COCO json file; calling the scorers directly avoids the
files and the pycocotools index.)

The tokenizer and METEOR run Java (``java`` on ``PATH``). SPICE also needs Stanford
CoreNLP models that pycocoevalcap downloads on first use, so it is off by default.
"""
from __future__ import annotations

import shutil
from collections.abc import Sequence

from mmengine.evaluator import BaseMetric

from mmgpt.registry import METRICS

from ._common import PredictionError, get_prediction, get_references, sample_id

__all__ = ['CAPTION_SCORERS', 'score_captions', 'COCOCaption']

#: Scorers by name, in the order COCOEvalCap runs them.
CAPTION_SCORERS = ('bleu', 'meteor', 'rouge', 'cider', 'spice')


def _scorer(name: str):
    # pycocoevalcap is imported when scoring: it is an evaluation-only dependency
    # (requirements/evaluation.txt) and the rest of mmgpt works without it.
    if name == 'bleu':
        from pycocoevalcap.bleu.bleu import Bleu
        return Bleu(4), ['Bleu_1', 'Bleu_2', 'Bleu_3', 'Bleu_4']
    if name == 'meteor':
        from pycocoevalcap.meteor.meteor import Meteor
        return Meteor(), ['METEOR']
    if name == 'rouge':
        from pycocoevalcap.rouge.rouge import Rouge
        return Rouge(), ['ROUGE_L']
    if name == 'cider':
        from pycocoevalcap.cider.cider import Cider
        return Cider(), ['CIDEr']
    from pycocoevalcap.spice.spice import Spice
    return Spice(), ['SPICE']


def score_captions(predictions: dict, references: dict,
                   scorers: Sequence[str] = ('bleu', 'meteor', 'rouge', 'cider')) -> dict:
    """Score captions with pycocoevalcap (PTB tokenisation, then each scorer).

    Args:
        predictions (dict): ``{image_id: caption}``.
        references (dict): ``{image_id: [caption, ...]}``, the same ids.
        scorers (Sequence[str]): Names from :data:`CAPTION_SCORERS`. Defaults to all
            but SPICE.

    Returns:
        dict: ``Bleu_1`` .. ``Bleu_4``, ``METEOR``, ``ROUGE_L``, ``CIDEr`` (and
        ``SPICE``) as pycocoevalcap computes them (fractions, not percent).
    """
    unknown = [s for s in scorers if s not in CAPTION_SCORERS]
    if unknown:
        raise ValueError(f'unknown caption scorer(s) {unknown}; known: {CAPTION_SCORERS}')
    if set(predictions) != set(references):
        raise ValueError('predictions and references must have the same image ids')
    if shutil.which('java') is None:
        raise RuntimeError('caption scoring needs Java (pycocoevalcap runs the Stanford PTB '
                           'tokenizer and METEOR in java): install a JRE, e.g. '
                           '`apt-get install default-jre-headless`')
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    tokenizer = PTBTokenizer()
    gts = tokenizer.tokenize({k: [{'caption': c} for c in v] for k, v in references.items()})
    res = tokenizer.tokenize({k: [{'caption': v}] for k, v in predictions.items()})
    out = {}
    for name in CAPTION_SCORERS:
        if name not in scorers:
            continue
        scorer, keys = _scorer(name)
        kwargs = dict(verbose=0) if name == 'bleu' else {}
        score, _ = scorer.compute_score(gts, res, **kwargs)
        for key, value in zip(keys, score if isinstance(score, list) else [score]):
            out[key] = float(value)
    return out


@METRICS.register_module()
class COCOCaption(BaseMetric):
    """BLEU-1..4, METEOR, ROUGE-L, CIDEr (SPICE optional) of generated captions.

    Each prediction record needs ``id`` (the image id; each image once), ``pred_text``
    and ``references`` (the reference captions). Scores are pycocoevalcap's, reported in
    percent like the captioning papers (CIDEr 1.17 -> 117.0).

    Args:
        scorers (Sequence[str]): Defaults to ``('bleu', 'meteor', 'rouge', 'cider')``.
        collect_device (str): MMEngine's. Defaults to ``'cpu'``.
        prefix (str, optional): Defaults to ``'caption'``.
    """

    default_prefix = 'caption'

    def __init__(self, scorers: Sequence[str] = ('bleu', 'meteor', 'rouge', 'cider'),
                 collect_device: str = 'cpu', prefix: str | None = None):
        unknown = [s for s in scorers if s not in CAPTION_SCORERS]
        if unknown:
            raise ValueError(f'COCOCaption: unknown scorer(s) {unknown}; known: '
                             f'{CAPTION_SCORERS}')
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.scorers = tuple(scorers)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each image's caption and references."""
        for sample in data_samples:
            self.results.append(dict(id=sample_id(sample), pred=get_prediction(sample),
                                     refs=get_references(sample)))

    def compute_metrics(self, results: list) -> dict:
        """The scores in percent, and ``n`` (images)."""
        predictions, references = {}, {}
        for r in results:
            key = str(r['id'])
            if key in predictions:
                raise PredictionError(f'COCOCaption: image {r["id"]!r} was predicted twice; '
                                      'a caption test set lists each image once')
            predictions[key], references[key] = r['pred'], r['refs']
        if not results:
            return dict(n=0)
        scores = score_captions(predictions, references, self.scorers)
        return dict({k: 100.0 * v for k, v in scores.items()}, n=len(results))
