"""Evaluation datasets: each reads a small fixture in its public format; a malformed
file gives an error naming the file and the record."""
import json

import pytest
from mmengine.registry import init_default_scope

from mmgpt.datasets import AnnotationError
from mmgpt.registry import DATASETS
from mmgpt.templates import chat_prompt, segments_to_text


def build(cfg):
    init_default_scope('mmgpt')
    return DATASETS.build(cfg)


def write(path, data, jsonl=False):
    path.write_text('\n'.join(json.dumps(r) for r in data) if jsonl else json.dumps(data))
    return str(path)


def vqa_answers(*words):
    return [dict(answer=w, answer_confidence='yes', answer_id=i + 1)
            for i, w in enumerate(words)]


def test_vqav2(tmp_path):
    q = write(tmp_path / 'q.json', dict(questions=[
        dict(image_id=262148, question='Where is he looking?', question_id=262148000),
        dict(image_id=393225, question='Is the bowl empty?', question_id=393225000)]))
    a = write(tmp_path / 'a.json', dict(annotations=[
        dict(question_id=262148000, image_id=262148, question_type='where is the',
             answer_type='other', multiple_choice_answer='down',
             answers=vqa_answers(*(['down'] * 7 + ['at table', 'skateboard', 'table']))),
        dict(question_id=393225000, image_id=393225, question_type='is the',
             answer_type='yes/no', multiple_choice_answer='no',
             answers=vqa_answers(*(['no'] * 10)))]))
    ds = build(dict(type='VQAv2EvalDataset', ann_file=q, answers_file=a,
                    img_prefix='coco/val2014', split_name='vqav2_val',
                    prompt='{question}\nAnswer the question using a single word or phrase.'))
    assert len(ds) == 2
    item = ds[0]
    assert item['id'] == 262148000 and item['split'] == 'vqav2_val'
    assert item['image'] == 'coco/val2014/COCO_val2014_000000262148.jpg'
    assert item['references'][:2] == ['down', 'down'] and len(item['references']) == 10
    assert item['answer_type'] == 'other'
    # the prompt is the template's chat prompt, with the question as the instruction
    text = segments_to_text(chat_prompt(item, 'mmgpt'))
    assert text.endswith('### Instruction:\nWhere is he looking?\nAnswer the question '
                         'using a single word or phrase.\n\n### Response:\n')
    assert '### Image:\n<image>' in text
    # test-dev: questions only
    assert build(dict(type='VQAv2EvalDataset', ann_file=q))[1]['references'] == []


def test_vqav2_malformed_annotation_names_file_and_record(tmp_path):
    q = write(tmp_path / 'q.json', dict(questions=[
        dict(image_id=1, question='Q?', question_id=10)]))
    a = write(tmp_path / 'a.json', dict(annotations=[
        dict(question_id=10, answers=vqa_answers('x')), dict(question_id=11, answers='x')]))
    with pytest.raises(AnnotationError, match=r'a\.json: record 1: key .answers.'):
        build(dict(type='VQAv2EvalDataset', ann_file=q, answers_file=a))
    q2 = write(tmp_path / 'q2.json', dict(questions=[dict(image_id=1, question_id=12)]))
    with pytest.raises(AnnotationError, match=r"q2\.json: record 0: missing key 'question'"):
        build(dict(type='VQAv2EvalDataset', ann_file=q2))
    q3 = write(tmp_path / 'q3.json', dict(questions=[
        dict(image_id=1, question='Q?', question_id=99)]))
    empty = write(tmp_path / 'empty.json', dict(annotations=[]))
    with pytest.raises(AnnotationError,
                       match=r'q3\.json: record 0: question_id 99 has no annotation'):
        build(dict(type='VQAv2EvalDataset', ann_file=q3, answers_file=empty))


def test_textvqa(tmp_path):
    path = write(tmp_path / 'TextVQA_0.5.1_val.json', dict(
        dataset_name='textvqa', dataset_type='val', data=[
            dict(question='what is the brand of this camera?', image_id='003a8ae2ef43b901',
                 question_id=34602, answers=['nous les gosses'] * 3 + ['dakota'] * 7,
                 image_classes=['Camera'], set_name='val')]))
    item = build(dict(type='TextVQAEvalDataset', ann_file=path, img_prefix='train_images'))[0]
    assert item['image'] == 'train_images/003a8ae2ef43b901.jpg'
    assert item['id'] == 34602 and len(item['references']) == 10
    bad = write(tmp_path / 'bad.json', dict(data=[dict(question='q', question_id=1)]))
    with pytest.raises(AnnotationError, match=r"bad\.json: record 0: missing key 'image_id'"):
        build(dict(type='TextVQAEvalDataset', ann_file=bad))


def test_vizwiz(tmp_path):
    path = write(tmp_path / 'val.json', [dict(
        image='VizWiz_val_00000000.jpg', question='What is this?', answer_type='other',
        answers=[dict(answer='soup', answer_confidence='yes')] * 10, answerable=1)])
    item = build(dict(type='VizWizEvalDataset', ann_file=path, img_prefix='val'))[0]
    assert item['id'] == 'VizWiz_val_00000000.jpg' and item['references'][0] == 'soup'
    bad = write(tmp_path / 'bad.json', [dict(image='x.jpg', question='q',
                                             answers=[dict(confidence='yes')])])
    with pytest.raises(AnnotationError, match=r"bad\.json: record 0: key 'answers': item 0"):
        build(dict(type='VizWizEvalDataset', ann_file=bad))


def test_aokvqa(tmp_path):
    record = dict(split='val', image_id=299207, question_id='22MexNkBPpdZGX6sxbxVBH',
                  question='What is the man by the bags awaiting?',
                  choices=['skateboarder', 'train', 'delivery', 'cab'], correct_choice_idx=3,
                  direct_answers=['ride'] * 5 + ['cab'] * 5, difficult_direct_answer=False,
                  rationales=['r'])
    path = write(tmp_path / 'aokvqa_v1p0_val.json', [record])
    item = build(dict(type='AOKVQAEvalDataset', ann_file=path, img_prefix='coco'))[0]
    assert item['image'] == 'coco/val2017/000000299207.jpg'
    assert item['turns'][-1]['instruction'] == ('What is the man by the bags awaiting?\n'
                                                'Options: skateboarder, train, delivery, cab')
    assert item['correct_choice_idx'] == 3 and len(item['references']) == 10
    bad = write(tmp_path / 'bad.json', [dict(record, correct_choice_idx=7)])
    with pytest.raises(AnnotationError, match=r'bad\.json: record 0: .*correct_choice_idx'):
        build(dict(type='AOKVQAEvalDataset', ann_file=bad))


def test_gqa(tmp_path):
    path = write(tmp_path / 'testdev_balanced_questions.json', {
        '20968379': dict(imageId='n288870', question='Do the shorts have dark color?',
                         answer='yes', fullAnswer='Yes, the shorts are dark.')})
    item = build(dict(type='GQAEvalDataset', ann_file=path, img_prefix='images'))[0]
    assert item['id'] == '20968379' and item['references'] == ['yes']
    assert item['image'] == 'images/n288870.jpg'
    bad = write(tmp_path / 'bad.json', {'1': dict(imageId='n1', question='q')})
    with pytest.raises(AnnotationError, match=r"bad\.json: record '1': missing key 'answer'"):
        build(dict(type='GQAEvalDataset', ann_file=bad))


def test_coco_karpathy_both_forms(tmp_path):
    lavis = write(tmp_path / 'coco_karpathy_test.json', [dict(
        image='val2014/COCO_val2014_000000391895.jpg',
        caption=['A man with a red helmet on a small moped on a dirt road. ', 'b'])])
    item = build(dict(type='COCOKarpathyEvalDataset', ann_file=lavis, img_prefix='coco'))[0]
    assert item['id'] == 391895 and item['image'] == (
        'coco/val2014/COCO_val2014_000000391895.jpg')
    assert item['references'][0] == 'A man with a red helmet on a small moped on a dirt road.'
    assert item['turns'][-1]['instruction'] == 'Can you describe the image?'
    karpathy = write(tmp_path / 'dataset_coco.json', dict(dataset='coco', images=[
        dict(filepath='val2014', filename='COCO_val2014_000000391895.jpg', split='test',
             cocoid=391895, sentences=[dict(raw='A man.'), dict(raw='A moped.')]),
        dict(filepath='train2014', filename='COCO_train2014_000000000009.jpg',
             split='train', cocoid=9, sentences=[dict(raw='Food.')])]))
    ds = build(dict(type='COCOKarpathyEvalDataset', ann_file=karpathy))
    assert len(ds) == 1 and ds[0]['references'] == ['A man.', 'A moped.']
    bad = write(tmp_path / 'bad.json', [dict(image='val2014/x.jpg', caption=[1, 2])])
    with pytest.raises(AnnotationError, match=r"bad\.json: record 0: key 'caption'"):
        build(dict(type='COCOKarpathyEvalDataset', ann_file=bad))


def test_flickr30k_karpathy(tmp_path):
    lavis = write(tmp_path / 'flickr30k_test.json', [dict(
        image='flickr30k-images/1007129816.jpg', caption=['A man with glasses.'])])
    item = build(dict(type='Flickr30kKarpathyEvalDataset', ann_file=lavis,
                      prompt='Describe the image in one sentence.'))[0]
    assert item['id'] == '1007129816'
    assert item['turns'][-1]['instruction'] == 'Describe the image in one sentence.'
    karpathy = write(tmp_path / 'dataset_flickr30k.json', dict(images=[
        dict(filename='1007129816.jpg', split='test', sentences=[dict(tokens=['a'])])]))
    with pytest.raises(AnnotationError, match=r"dataset_flickr30k\.json: record 0: key "
                                              r"'sentences': item 0 has no string 'raw'"):
        build(dict(type='Flickr30kKarpathyEvalDataset', ann_file=karpathy))


def test_nlvr2_raw_and_lavis(tmp_path):
    raw = write(tmp_path / 'dev.json', [dict(
        sentence='The right image shows a walkway.', label='False',
        identifier='dev-850-0-0', left_url='u', right_url='v')], jsonl=True)
    item = build(dict(type='NLVR2EvalDataset', ann_file=raw, img_prefix='dev'))[0]
    assert item['image'] == 'dev/dev-850-0-img0.png' and item['references'] == ['False']
    assert item['turns'][-1]['instruction'] == ('The right image shows a walkway.\n'
                                                'Is this statement true or false?')
    lavis = write(tmp_path / 'nlvr_dev.json', [dict(
        images=['dev/dev-850-0-img0.png', 'dev/dev-850-0-img1.png'],
        sentence='The right image shows a walkway.', label=1)])
    item = build(dict(type='NLVR2EvalDataset', ann_file=lavis, file_format='json',
                      side='right'))[0]
    assert item['image'] == 'dev/dev-850-0-img1.png' and item['references'] == ['True']
    bad = write(tmp_path / 'bad.json', [dict(sentence='s', label='maybe',
                                             identifier='dev-1-0-0')], jsonl=True)
    with pytest.raises(AnnotationError, match=r"bad\.json: line 1: key 'label'"):
        build(dict(type='NLVR2EvalDataset', ann_file=bad))


def test_instruction_readers_keep_history_and_reference(tmp_path):
    dolly = write(tmp_path / 'dolly.jsonl', [dict(
        instruction='What is 3 plus 4?', context='', response='The sum is 7.',
        category='closed_qa')], jsonl=True)
    item = build(dict(type='DollyEvalDataset', ann_file=dolly, split_name='lang'))[0]
    assert item['image'] is None and item['references'] == ['The sum is 7.']
    assert item['turns'] == [dict(instruction='What is 3 plus 4?', input='', response=None)]
    llava = write(tmp_path / 'llava.json', [dict(id='7', image='7.png', conversations=[
        {'from': 'human', 'value': '<image>\nWhat shape?'},
        {'from': 'gpt', 'value': 'Circles.'},
        {'from': 'human', 'value': 'How many?'}, {'from': 'gpt', 'value': 'Two.'}])])
    item = build(dict(type='LlavaEvalDataset', ann_file=llava))[0]
    assert item['references'] == ['Two.'] and item['turns'][0]['response'] == 'Circles.'
    text = segments_to_text(chat_prompt(item, 'mmgpt'))
    assert text.endswith('What shape?\n\n### Response:\nCircles.<EOS>\n\n### Instruction:\n'
                         'How many?\n\n### Response:\n')
    bad = write(tmp_path / 'bad.jsonl', [dict(instruction='x')], jsonl=True)
    with pytest.raises(AnnotationError, match=r"bad\.jsonl: line 1: missing key 'response'"):
        build(dict(type='DollyEvalDataset', ann_file=bad))
