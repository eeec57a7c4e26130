"""Metrics against hand-worked cases (VQA normalisation, leave-one-out, A-OKVQA, ROUGE-L)."""
import pytest
from mmengine.registry import init_default_scope

from mmgpt.evaluation.metrics import match_choice, normalize_vqa_answer, rouge_l, vqa_soft_accuracy
from mmgpt.evaluation.metrics.vqa import process_digit_article, process_punctuation
from mmgpt.registry import METRICS


def run_metric(cfg, samples):
    init_default_scope('mmgpt')
    metric = METRICS.build(cfg)
    metric.process({}, samples)
    return metric.evaluate(len(samples))


@pytest.mark.parametrize('raw, expected', [
    # the official steps, by example
    ('Yes.', 'yes'),                      # period stripped, lower case
    ('two', '2'), ('Ten dogs', '10 dogs'), ('none', '0'),  # number words -> digits
    ('a dog', 'dog'), ('The Cat', 'cat'), ('an apple', 'apple'),  # articles dropped
    ('dont', "don't"), ('isnt', "isn't"), ('whats', "what's"),  # contractions restored
    ('t-shirt', 't shirt'),               # a mark not touching a space becomes a space
    ('red, white', 'red white'),          # a mark touching a space is deleted
    ('1,000', '1000'),                    # digit,digit: every mark is deleted
    ('3.5', '3.5'),                       # a period before a digit stays
    ('  left\nside\t', 'left side'),      # newlines and tabs are spaces, ends stripped
    ('(yes)', 'yes'),
])
def test_official_normalisation(raw, expected):
    assert normalize_vqa_answer(raw) == expected


def test_punctuation_and_digit_steps_separately():
    # ',' touches a space: deleted; '!' touches none: a space (the word step strips it)
    assert process_punctuation('hello, world!') == 'hello world '
    assert process_punctuation('hello!world') == 'hello world'
    assert process_digit_article('The TWO cats') == '2 cats'


@pytest.mark.parametrize('matches, expected', [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9),
                                               (4, 1.0), (10, 1.0)])
def test_leave_one_out_average(matches, expected):
    # k of 10 humans said "cat": each of the k subsets without a "cat" has k-1 matches,
    # each of the 10-k others has k: mean of min(1, m/3).
    refs = ['cat'] * matches + ['dog'] * (10 - matches)
    assert vqa_soft_accuracy('cat', refs) == pytest.approx(expected)


def test_leave_one_out_three_matches_by_hand():
    refs = ['2', '2', '2', 'two', '3', '3', '3', '3', '4', '5']
    # the prediction "two" normalises to "2"; the reference "two" is not normalised by
    # the official code (references differ -> punctuation only), so 3 matches -> 0.9
    assert vqa_soft_accuracy('Two.', refs) == pytest.approx(0.9)
    # with full reference normalisation "two" -> "2": 4 matches -> 1.0
    assert vqa_soft_accuracy('Two.', refs, full_reference_norm=True) == pytest.approx(1.0)


def test_references_all_equal_are_not_processed():
    # official quirk: identical references are compared as they are
    assert vqa_soft_accuracy('yes', ['yes'] * 10) == 1.0
    assert vqa_soft_accuracy('yes', ['yes.'] * 10) == 0.0
    assert vqa_soft_accuracy('yes', ['yes.'] * 9 + ['no']) == 1.0


def test_vqa_metric_reports_n_and_answer_types():
    samples = [
        dict(id=1, pred_text='Yes', references=['yes'] * 10, answer_type='yes/no'),
        dict(id=2, pred_text='two', references=['2'] * 2 + ['3'] * 8, answer_type='number'),
        dict(id=3, pred_text='a red car', references=['red car'] * 3 + ['car'] * 7,
             answer_type='other'),
    ]
    out = run_metric(dict(type='VQAAcc'), samples)
    assert out['vqa/n'] == 3
    assert out['vqa/accuracy'] == pytest.approx(100 * (1.0 + 0.6 + 0.9) / 3)
    assert out['vqa/accuracy_number'] == pytest.approx(60.0)
    assert out['vqa/accuracy_yes/no'] == pytest.approx(100.0)


def test_metric_rejects_a_sample_without_references():
    with pytest.raises(ValueError, match=r"prediction 7: expected a list .* 'references'"):
        run_metric(dict(type='VQAAcc'), [dict(id=7, pred_text='yes')])


def test_aokvqa_mc_and_da():
    choices = ['skateboarder', 'train', 'delivery', 'cab']
    das = ['ride', 'ride', 'bus', 'taxi', 'travelling', 'traffic', 'taxi', 'cab', 'cab',
           'his ride']
    samples = [
        dict(id='a', pred_text='Cab.', choices=choices, correct_choice_idx=3, references=das),
        dict(id='b', pred_text='The answer is train. Because a cab is not a train.',
             choices=choices, correct_choice_idx=3, references=das),
        dict(id='c', pred_text='ride', choices=choices, correct_choice_idx=3,
             references=das, difficult_direct_answer=True),
        dict(id='d', pred_text='nothing here', choices=choices, correct_choice_idx=0,
             references=das),
    ]
    out = run_metric(dict(type='AOKVQAAcc'), samples)
    # MC over all 4: a right, b wrong (names train), c (ride) unmatched, d unmatched
    assert out['aokvqa/mc_accuracy'] == pytest.approx(25.0)
    assert out['aokvqa/mc_n'] == 4 and out['aokvqa/mc_unmatched'] == 2
    # DA without the difficult c: a "cab" 2/3, b 0, d 0
    assert out['aokvqa/da_n'] == 3
    assert out['aokvqa/da_accuracy'] == pytest.approx(100 * (2 / 3) / 3)
    out = run_metric(dict(type='AOKVQAAcc', difficult_subset='mc'), samples)
    assert out['aokvqa/mc_n'] == 3 and out['aokvqa/da_n'] == 4
    # DA with c: "ride" twice (not "his ride") -> 2/3
    assert out['aokvqa/da_accuracy'] == pytest.approx(100 * (2 / 3 + 2 / 3) / 4)


def test_match_choice():
    choices = ['red', 'blue', 'light blue']
    assert match_choice('Red.', choices) == 0
    assert match_choice('it is light blue', choices) == 2 or match_choice(
        'it is light blue', choices) is None
    assert match_choice('the answer is blue. because red is wrong', choices) == 1
    assert match_choice('green', choices) is None


def test_exact_match_per_task():
    samples = [dict(id=0, pred_text='Yes.', references=['yes'], task='gqa'),
               dict(id=1, pred_text='two', references=['2'], task='gqa'),
               dict(id=2, pred_text='False', references=['True'], task='nlvr')]
    out = run_metric(dict(type='ExactMatchAcc', per_task=True), samples)
    assert out['exact_match/accuracy'] == pytest.approx(200 / 3)
    assert out['exact_match/n'] == 3
    assert out['exact_match/gqa/accuracy'] == 100.0 and out['exact_match/nlvr/n'] == 1
    out = run_metric(dict(type='ExactMatchAcc', normalize='none'), samples)
    assert out['exact_match/accuracy'] == 0.0


def test_rouge_l_by_hand():
    # LCS("the cat sat on the mat", "the cat is on the mat") = the cat on the mat = 5
    p, r = 5 / 6, 5 / 6
    assert rouge_l('The cat sat on the mat.', 'the cat is on the mat') == pytest.approx(
        2 * p * r / (p + r))
    # pred 2 tokens, ref 4 tokens, LCS 2: P=1, R=0.5, F1=2/3
    assert rouge_l('red car', 'a red fast car') == pytest.approx(2 / 3)
    assert rouge_l('', 'anything') == 0.0


def test_instruction_metric():
    samples = [dict(id=0, pred_text='The sum is 7.', references=['The sum is 7.'],
                    task='add'),
               dict(id=1, pred_text='red car', references=['a red fast car'], task='other')]
    out = run_metric(dict(type='InstructionMetric'), samples)
    assert out['instruction/exact_match'] == 50.0
    assert out['instruction/rouge_l'] == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert out['instruction/n'] == 2 and out['instruction/add/n'] == 1


def test_keyword_metric(tmp_path):
    import json
    items = {
        'qa/0': dict(task='count', answer='There are two shapes.', accept=['two'],
                     choice_groups=[['one', 'two', 'three']], chance=1 / 3),
        'qa/1': dict(task='count', answer='There is one shape.', accept=['one'],
                     choice_groups=[['one', 'two', 'three']], chance=1 / 3),
        'lang/0': dict(task='upper', answer='It is CAT.', accept=['CAT'],
                       choice_groups=[['CAT', 'DOG']], case_sensitive=True, chance=0.5),
    }
    path = tmp_path / 'keywords.json'
    path.write_text(json.dumps(items))
    samples = [dict(id=0, split='qa', pred_text='There are 2 shapes.'),
               dict(id=1, split='qa', pred_text='one or two'),
               dict(id=0, split='lang', pred_text='It is cat.')]
    out = run_metric(dict(type='KeywordAcc', ann_file=str(path)), samples)
    assert out['keyword/count/keyword'] == 50.0 and out['keyword/count/strict'] == 50.0
    assert out['keyword/upper/keyword'] == 0.0  # case-sensitive
    assert out['keyword/n'] == 3
    with pytest.raises(ValueError, match="'qa/5' has no item"):
        run_metric(dict(type='KeywordAcc', ann_file=str(path)),
                   [dict(id=5, split='qa', pred_text='x')])


def test_every_metric_builds_from_config(tmp_path):
    import mmgpt.evaluation  # noqa: F401  (the registry's lazy location)
    (tmp_path / 'k.json').write_text('{}')
    init_default_scope('mmgpt')
    for cfg in [dict(type='VQAAcc'), dict(type='AOKVQAAcc', mode='mc'),
                dict(type='ExactMatchAcc'), dict(type='COCOCaption'),
                dict(type='InstructionMetric'),
                dict(type='KeywordAcc', ann_file=str(tmp_path / 'k.json'))]:
        assert type(METRICS.build(cfg)).__name__ == cfg['type']
