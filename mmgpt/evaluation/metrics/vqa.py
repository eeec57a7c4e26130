"""VQA accuracy (VQAv2, OK-VQA, TextVQA, VizWiz) with the official answer normalisation.

The definition is the one of the VQA challenge's evaluation code (``vqaEval.py`` of
GT-Vision-Lab/VQA, Python 3 version): an answer scores ``min(#humans who gave it / 3, 1)``
against every subset of 9 of the 10 human answers (leave one out), and the question's
score is the mean over the 10 subsets. Before matching, the predicted answer goes
through :func:`normalize_vqa_answer` (punctuation, then lower case, number words to
digits, articles removed, contractions restored); the human answers, which the VQA team
already normalised, only get :func:`process_punctuation`, and only when they are not all
the same. This is what makes the metric the official one; ``full_reference_norm=True``
normalises the references fully (what TextVQA's and EvalAI's answer processors do for
annotations that were not normalised in advance).
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from mmengine.evaluator import BaseMetric

from mmgpt.registry import METRICS

from ._common import get_prediction, get_references

__all__ = ['CONTRACTIONS', 'NUMBER_MAP', 'ARTICLES', 'PUNCTUATION', 'process_punctuation',
           'process_digit_article', 'normalize_vqa_answer', 'vqa_soft_accuracy', 'VQAAcc']

#: Contractions written without their apostrophe, mapped back (the official table).
CONTRACTIONS = {
    'aint': "ain't", 'arent': "aren't", 'cant': "can't", 'couldve': "could've",
    'couldnt': "couldn't", "couldn'tve": "couldn't've", "couldnt've": "couldn't've",
    'didnt': "didn't", 'doesnt': "doesn't", 'dont': "don't", 'hadnt': "hadn't",
    "hadnt've": "hadn't've", "hadn'tve": "hadn't've", 'hasnt': "hasn't",
    'havent': "haven't", 'hed': "he'd", "hed've": "he'd've", "he'dve": "he'd've",
    'hes': "he's", 'howd': "how'd", 'howll': "how'll", 'hows': "how's",
    "Id've": "I'd've", "I'dve": "I'd've", 'Im': "I'm", 'Ive': "I've", 'isnt': "isn't",
    'itd': "it'd", "itd've": "it'd've", "it'dve": "it'd've", 'itll': "it'll",
    "let's": "let's", 'maam': "ma'am", 'mightnt': "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've", 'mightve': "might've",
    'mustnt': "mustn't", 'mustve': "must've", 'neednt': "needn't", 'notve': "not've",
    'oclock': "o'clock", 'oughtnt': "oughtn't", "ow's'at": "'ow's'at",
    "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at", 'shant': "shan't",
    "shed've": "she'd've", "she'dve": "she'd've", "she's": "she's",
    'shouldve': "should've", 'shouldnt': "shouldn't", "shouldnt've": "shouldn't've",
    "shouldn'tve": "shouldn't've", "somebody'd": 'somebodyd',
    "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    'somebodyll': "somebody'll", 'somebodys': "somebody's", 'someoned': "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've",
    'someonell': "someone'll", 'someones': "someone's", 'somethingd': "something'd",
    "somethingd've": "something'd've", "something'dve": "something'd've",
    'somethingll': "something'll", 'thats': "that's", 'thered': "there'd",
    "thered've": "there'd've", "there'dve": "there'd've", 'therere': "there're",
    'theres': "there's", 'theyd': "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", 'theyll': "they'll", 'theyre': "they're",
    'theyve': "they've", 'twas': "'twas", 'wasnt': "wasn't", "wed've": "we'd've",
    "we'dve": "we'd've", 'weve': "we've", 'werent': "weren't", 'whatll': "what'll",
    'whatre': "what're", 'whats': "what's", 'whatve': "what've", 'whens': "when's",
    'whered': "where'd", 'wheres': "where's", 'whereve': "where've", 'whod': "who'd",
    "whod've": "who'd've", "who'dve": "who'd've", 'wholl': "who'll", 'whos': "who's",
    'whove': "who've", 'whyll': "why'll", 'whyre': "why're", 'whys': "why's",
    'wont': "won't", 'wouldve': "would've", 'wouldnt': "wouldn't",
    "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've", 'yall': "y'all",
    "yall'll": "y'all'll", "y'allll": "y'all'll", "yall'd've": "y'all'd've",
    "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've", 'youd': "you'd",
    "youd've": "you'd've", "you'dve": "you'd've", 'youll': "you'll", 'youre': "you're",
    'youve': "you've",
}
#: Number words written as digits ('none' counts as zero).
NUMBER_MAP = {'none': '0', 'zero': '0', 'one': '1', 'two': '2', 'three': '3', 'four': '4',
              'five': '5', 'six': '6', 'seven': '7', 'eight': '8', 'nine': '9', 'ten': '10'}
#: Articles dropped from answers.
ARTICLES = ('a', 'an', 'the')
#: Punctuation removed (or replaced by a space) from answers.
PUNCTUATION = (';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-', '>',
               '<', '@', '`', ',', '?', '!')

# A comma between two digits ("1,000") makes every punctuation mark vanish rather than
# become a space.
_DIGIT_COMMA = re.compile(r'(\d)(,)(\d)')
# A period not followed by a digit ("3.5" keeps its point). The official pattern also
# carries a no-op look-ahead for the text "<=digit", kept for equality.
_PERIOD = re.compile(r'(?!<=\d)(\.)(?!\d)')
# The official code passes re.UNICODE (32) as the `count` argument of `sub`: at most 32
# periods are removed. Kept so that scores are identical.
_PERIOD_COUNT = int(re.UNICODE)


def process_punctuation(text: str) -> str:
    """The official punctuation step.

    Each mark of :data:`PUNCTUATION` is deleted when it touches a space somewhere in the
    text (or the text has a digit-comma-digit), else replaced by a space; then periods
    not followed by a digit are deleted: ``"yes."`` -> ``"yes"``, ``"t-shirt"`` ->
    ``"t shirt"``, ``"1,000"`` -> ``"1000"``, ``"3.5"`` stays.

    Args:
        text (str): An answer.
    """
    out = text
    joined = _DIGIT_COMMA.search(text) is not None
    for mark in PUNCTUATION:
        if joined or mark + ' ' in text or ' ' + mark in text:
            out = out.replace(mark, '')
        else:
            out = out.replace(mark, ' ')
    return _PERIOD.sub('', out, _PERIOD_COUNT)


def process_digit_article(text: str) -> str:
    """The official word step: lower case, number words to digits, articles dropped,
    contractions restored (``"Two dogs"`` -> ``"2 dogs"``, ``"the cat"`` -> ``"cat"``,
    ``"dont"`` -> ``"don't"``).

    Args:
        text (str): An answer (after :func:`process_punctuation`).
    """
    words = [NUMBER_MAP.get(w, w) for w in text.lower().split()]
    words = [w for w in words if w not in ARTICLES]
    return ' '.join(CONTRACTIONS.get(w, w) for w in words)


def normalize_vqa_answer(text: str) -> str:
    """The official normalisation of a predicted answer.

    Newlines and tabs become spaces, the ends are stripped, then
    :func:`process_punctuation` and :func:`process_digit_article` apply.

    Args:
        text (str): The predicted answer.
    """
    text = text.replace('\n', ' ').replace('\t', ' ').strip()
    return process_digit_article(process_punctuation(text))


def vqa_soft_accuracy(prediction: str, references: Sequence[str],
                      full_reference_norm: bool = False) -> float:
    """The VQA accuracy of one answer, averaged over leave-one-out subsets.

    For each of the N human answers, the others (N - 1) are kept and the answer scores
    ``min(#matches among them / 3, 1)``; the result is the mean of the N scores. With
    10 answers of which k match: ``k >= 4`` gives 1, ``k = 3`` gives 0.9 (7 subsets
    keep 3 matches, 3 keep 2: (7 + 3 * 2/3) / 10), ``k = 2`` gives 0.6, ``k = 1`` 0.3.

    Args:
        prediction (str): The predicted answer (normalised here).
        references (Sequence[str]): The human answers (10 in VQAv2).
        full_reference_norm (bool): Normalise the references like the prediction.
            Defaults to False (official: punctuation only, only if they differ).

    Returns:
        float: The accuracy in [0, 1].
    """
    answer = normalize_vqa_answer(prediction)
    refs = [r.replace('\n', ' ').replace('\t', ' ').strip() for r in references]
    if full_reference_norm:
        refs = [normalize_vqa_answer(r) for r in refs]
    elif len(set(refs)) > 1:
        refs = [process_punctuation(r) for r in refs]
    matches = [r == answer for r in refs]
    total = sum(matches)
    scores = [min(1.0, (total - hit) / 3.0) for hit in matches]
    return sum(scores) / len(scores)


@METRICS.register_module()
class VQAAcc(BaseMetric):
    """VQA accuracy (VQAv2 / OK-VQA / TextVQA / VizWiz), the official definition.

    See :func:`vqa_soft_accuracy` and the module docstring. Each prediction record needs
    ``pred_text`` and ``references`` (the human answers); records with an
    ``answer_type`` are also scored per answer type.

    Args:
        full_reference_norm (bool): Normalise the references fully. Defaults to False.
        collect_device (str): MMEngine's. Defaults to ``'cpu'``.
        prefix (str, optional): Metric name prefix. Defaults to ``'vqa'``.
    """

    default_prefix = 'vqa'

    def __init__(self, full_reference_norm: bool = False, collect_device: str = 'cpu',
                 prefix: str | None = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.full_reference_norm = full_reference_norm

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Score each prediction (see :func:`vqa_soft_accuracy`)."""
        for sample in data_samples:
            acc = vqa_soft_accuracy(get_prediction(sample), get_references(sample),
                                    self.full_reference_norm)
            self.results.append(dict(acc=acc, answer_type=sample.get('answer_type')))

    def compute_metrics(self, results: list) -> dict:
        """``accuracy`` (percent), ``n`` and ``accuracy_<answer type>`` per type."""
        out = dict(accuracy=100.0 * sum(r['acc'] for r in results) / max(len(results), 1),
                   n=len(results))
        types = sorted({r['answer_type'] for r in results if r['answer_type']})
        for kind in types:
            accs = [r['acc'] for r in results if r['answer_type'] == kind]
            out[f'accuracy_{kind.replace(" ", "_")}'] = 100.0 * sum(accs) / len(accs)
        return out
