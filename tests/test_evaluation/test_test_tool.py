"""tools/test.py on the tiny model: predictions file, metrics json, table, --resume."""
import json
import os
import sys

import pytest
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'tools'))

import test as test_tool  # noqa: E402  (tools/test.py)


def write_fixture(root):
    """Three VQAv2-format questions on two images, and the config that reads them."""
    os.makedirs(root / 'val2014')
    for image_id, colour in ((1, (200, 0, 0)), (2, (0, 0, 200))):
        Image.new('RGB', (40, 40), colour).save(
            root / 'val2014' / f'COCO_val2014_{image_id:012d}.jpg')
    questions = [dict(image_id=1, question='What color?', question_id=10),
                 dict(image_id=2, question='What color?', question_id=20),
                 dict(image_id=2, question='Is it blue?', question_id=21)]
    answers = [dict(question_id=q['question_id'], answer_type='other',
                    answers=[dict(answer='red')] * 10) for q in questions]
    (root / 'q.json').write_text(json.dumps(dict(questions=questions)))
    (root / 'a.json').write_text(json.dumps(dict(annotations=answers)))
    config = root / 'eval_tiny.py'
    config.write_text(f"""
_base_ = ['{REPO}/configs/tiny/mmgpt_tiny_fixture.py']
model = dict(generation_cfg=dict(max_new_tokens=3))
test_dataloader = dict(
    batch_size=2, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='VQAv2EvalDataset', data_root='{root}', ann_file='q.json',
                 answers_file='a.json', img_prefix='val2014', split_name='tiny',
                 pipeline=[dict(type='LoadConversationImage', on_error='raise'),
                           dict(type='PackEvalInputs')]))
test_evaluator = dict(type='VQAAcc')
test_cfg = dict(type='PredictionTestLoop')
""")
    return str(config)


def read_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


# about 20 s: builds the tiny model and runs the test loop three times
@pytest.mark.slow
def test_test_tool_writes_predictions_metrics_and_resumes(tmp_path, capsys):
    config = write_fixture(tmp_path)
    work = tmp_path / 'work'
    out = str(tmp_path / 'preds.jsonl')
    args = [config, 'none', '--work-dir', str(work), '--out', out, '--no-progress']
    metrics = test_tool.main(args)
    assert metrics['vqa/n'] == 3
    printed = capsys.readouterr().out
    assert 'vqa/accuracy' in printed and 'vqa/n' in printed
    preds = read_lines(out)
    assert [p['id'] for p in preds] == [10, 20, 21]
    assert all(p['split'] == 'tiny' and '### Response:\n' in p['prompt'] for p in preds)
    report = json.loads((work / 'metrics.json').read_text())
    assert report['metrics'] == metrics and report['predictions'] == out

    # a killed run: the first batch (2 predictions) saved, the last line cut mid-way;
    # the saved answers are marked to see that --resume reuses them
    kept = [dict(p, pred_text='red') for p in preds[:2]]
    with open(out, 'w') as f:
        f.write(''.join(json.dumps(p) + '\n' for p in kept) + '{"id": 21, "pred')
    metrics = test_tool.main(args + ['--resume'])
    assert metrics['vqa/n'] == 3
    # the two reused 'red' answers score 1 each (all 10 humans said red); the third is
    # the model's answer again
    third = [p for p in read_lines_tolerant(out) if p['id'] == 21][-1]
    expected = (2 + (third['pred_text'].strip().lower() == 'red')) / 3 * 100
    assert metrics['vqa/accuracy'] == pytest.approx(expected)
    # without --resume the file starts afresh
    test_tool.main(args)
    assert [p['pred_text'] for p in read_lines(out)] == [p['pred_text'] for p in preds]


def read_lines_tolerant(path):
    out = []
    with open(path) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    config = write_fixture(tmp_path)
    with pytest.raises(SystemExit, match='checkpoint .*nothing.pth does not exist'):
        test_tool.main([config, str(tmp_path / 'nothing.pth'), '--work-dir',
                        str(tmp_path / 'w')])
