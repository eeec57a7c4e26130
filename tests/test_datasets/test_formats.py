"""Every annotation-format dataset turns its public format into the exact conversations."""
import json
import logging

import pytest

from mmgpt.datasets import CAPTION_REQUESTS, ConversationDataset
from mmgpt.registry import DATASETS

RATIONALES = ['A train would not be on the street.', 'He has bags.', 'He waits for a ride.']


def dump(path, obj, jsonl=False):
    """Write ``obj`` (a JSONL list of lines when ``jsonl``) and return the path as str."""
    text = '\n'.join(json.dumps(o) for o in obj) + '\n' if jsonl else json.dumps(obj)
    path.write_text(text, encoding='utf-8')
    return str(path)


def build(type, **kwargs):
    """Build a dataset from the registry and return its conversations."""
    dataset = DATASETS.build(dict(type=type, **kwargs))
    return dataset, [dataset.get_data_info(i) for i in range(len(dataset))]


def strip_idx(conversations):
    """Conversations without MMEngine's ``sample_idx``."""
    return [{k: v for k, v in c.items() if k != 'sample_idx'} for c in conversations]


def turn(instruction, response, input=''):
    return dict(instruction=instruction, input=input, response=response)


def aokvqa_record(i=0, idx=3, split='train'):
    return {
        'split': split, 'image_id': 299207 + i, 'question_id': f'q{i}',
        'question': 'What is the man by the bags awaiting?',
        'choices': ['skateboarder', 'train', 'delivery', 'cab'], 'correct_choice_idx': idx,
        'direct_answers': ['ride', 'cab'], 'difficult_direct_answer': False,
        'rationales': RATIONALES,
    }


# --------------------------------------------------------------------------- LLaVA
def test_llava_single_turn_removes_image_marker_before_or_after(tmp_path):
    ann = dump(tmp_path / 'detail_23k.json', [
        {'id': '000000033471', 'image': '000000033471.jpg', 'conversations': [
            {'from': 'human', 'value': '<image>\nWhat are the colors of the bus?'},
            {'from': 'gpt', 'value': 'White and red.\n\nIt is a city bus. '}]},
        {'id': '000000052846', 'image': '000000052846.jpg', 'conversations': [
            {'from': 'human', 'value': 'Describe the scene.\nBe precise.\n<image>'},
            {'from': 'gpt', 'value': 'A dog.'}]},
    ])
    dataset, convs = build('LlavaDataset', data_root=str(tmp_path), ann_file='detail_23k.json',
                           img_prefix='coco/train2017')
    assert strip_idx(convs) == [
        dict(image=str(tmp_path / 'coco/train2017/000000033471.jpg'),
             turns=[turn('What are the colors of the bus?', 'White and red.\n\nIt is a city bus.')],
             source='LlavaDataset', id='000000033471'),
        dict(image=str(tmp_path / 'coco/train2017/000000052846.jpg'),
             turns=[turn('Describe the scene.\nBe precise.', 'A dog.')],
             source='LlavaDataset', id='000000052846'),
    ]
    assert dataset.modality == 'vl' and dataset.metainfo['modality'] == 'vl'
    assert ann == dataset.ann_file


def test_llava_dial_pairs_2k_with_2k_plus_1(tmp_path):
    messages = [('human', 'What trick?\n<image>'), ('gpt', 'A jump.'),
                ('human', 'Protective gear?'), ('gpt', 'No.\nNone at all.'),
                ('human', 'Where?'), ('gpt', 'A skate park.')]
    dump(tmp_path / 'conversation_58k.json', [{
        'id': '7', 'image': '000000215677.jpg',
        'conversations': [{'from': f, 'value': v} for f, v in messages]}])
    _, convs = build('LlavaDialDataset', ann_file=str(tmp_path / 'conversation_58k.json'))
    assert convs[0]['turns'] == [turn('What trick?', 'A jump.'),
                                 turn('Protective gear?', 'No.\nNone at all.'),
                                 turn('Where?', 'A skate park.')]
    assert convs[0]['image'] == '000000215677.jpg'
    _, convs = build('LlavaDataset', ann_file=str(tmp_path / 'conversation_58k.json'),
                     max_turns=1)
    assert convs[0]['turns'] == [turn('What trick?', 'A jump.')]


# --------------------------------------------------------------------------- captions
def test_caption_requests_are_the_papers_ten():
    assert len(CAPTION_REQUESTS) == 10 == len(set(CAPTION_REQUESTS))
    assert CAPTION_REQUESTS[0] == 'Can you describe the image?'
    assert CAPTION_REQUESTS[-1] == ('Can you suggest an insightful caption that highlights the '
                                    'underlying message of the image?')


def test_cc_sbu_align(tmp_path):
    dump(tmp_path / 'filter_cap.json', {'annotations': [
        {'image_id': str(i), 'caption': f'  Caption {i}.\nSecond line.  '} for i in range(40)]})
    cfg = dict(data_root=str(tmp_path), ann_file='filter_cap.json', img_prefix='image')
    _, convs = build('CcSbuAlignDataset', **cfg)
    assert len(convs) == 40
    first = convs[2]
    assert first['image'] == str(tmp_path / 'image' / '2.jpg')
    assert first['id'] == '2' and first['source'] == 'CcSbuAlignDataset'
    assert first['turns'][0]['response'] == 'Caption 2.\nSecond line.'
    instructions = [c['turns'][0]['instruction'] for c in convs]
    assert set(instructions) <= set(CAPTION_REQUESTS)
    assert len(set(instructions)) > 3  # drawn per record
    _, again = build('CcSbuAlignDataset', **cfg)
    assert [c['turns'] for c in again] == [c['turns'] for c in convs]
    _, other = build('CcSbuAlignDataset', seed=1, **cfg)
    assert [c['turns'] for c in other] != [c['turns'] for c in convs]


def test_coco_caption_train_and_val_forms(tmp_path):
    train = dump(tmp_path / 'coco_karpathy_train.json', [
        {'caption': 'A woman cutting a cake. ', 'image': 'val2014/COCO_val2014_000000522418.jpg',
         'image_id': 'coco_522418'}])
    captions = [f'Caption {k}.' for k in range(5)]
    val = dump(tmp_path / 'coco_karpathy_val.json', [
        {'image': 'val2014/COCO_val2014_000000391895.jpg', 'caption': captions}])
    _, convs = build('COCOCaptionDataset', ann_file=[train, val], img_prefix='/coco')
    assert [c['image'] for c in convs] == ['/coco/val2014/COCO_val2014_000000522418.jpg',
                                           '/coco/val2014/COCO_val2014_000000391895.jpg']
    assert convs[0]['turns'][0]['response'] == 'A woman cutting a cake.'
    assert convs[0]['id'] == 'coco_522418' and convs[1]['id'] == 0
    assert convs[1]['turns'][0]['response'] in captions
    assert all(c['turns'][0]['instruction'] in CAPTION_REQUESTS for c in convs)
    _, expanded = build('COCOCaptionDataset', ann_file=val, all_captions=True)
    assert [c['turns'][0]['response'] for c in expanded] == captions
    assert [c['id'] for c in expanded] == [f'0_{k}' for k in range(5)]


# --------------------------------------------------------------------------- A-OKVQA
def test_aokvqa_answer_format_and_image_path(tmp_path):
    ann = dump(tmp_path / 'aokvqa_v1p0_train.json', [aokvqa_record()])
    _, convs = build('AOKVQADataset', ann_file=ann, img_prefix='coco', option_prob=0.0)
    assert strip_idx(convs) == [dict(
        image='coco/train2017/000000299207.jpg',
        turns=[turn('What is the man by the bags awaiting?',
                    'The answer is cab. Because A train would not be on the street. '
                    'He has bags. He waits for a ride.')],
        source='AOKVQADataset', id='q0')]


def test_aokvqa_option_prob(tmp_path):
    ann = dump(tmp_path / 'aokvqa.json', [aokvqa_record(i) for i in range(60)])
    options = '\nOptions: skateboarder, train, delivery, cab'
    for prob, expect in ((1.0, {True}), (0.0, {False}), (0.5, {True, False})):
        _, convs = build('AOKVQADataset', ann_file=ann, option_prob=prob)
        shown = {c['turns'][0]['instruction'].endswith(options) for c in convs}
        assert shown == expect, prob
    _, one = build('AOKVQADataset', ann_file=ann, option_prob=1.0)
    assert one[0]['turns'][0]['instruction'] == 'What is the man by the bags awaiting?' + options
    _, a = build('AOKVQADataset', ann_file=ann)
    _, b = build('AOKVQADataset', ann_file=ann)
    assert a == b


# --------------------------------------------------------------------------- OCR-VQA
def test_ocrvqa_list_form_one_conversation_per_question(tmp_path):
    ann = dump(tmp_path / 'ocrvqa.json', [{'filename': '1234.jpg',
                                           'questions': ['Who wrote this book?', 'Genre?'],
                                           'answers': ['Jane Doe', 'Travel']}])
    _, convs = build('OCRVQADataset', ann_file=ann, img_prefix='images')
    assert strip_idx(convs) == [
        dict(image='images/1234.jpg', turns=[turn('Who wrote this book?', 'Jane Doe')],
             source='OCRVQADataset', id='1234_0'),
        dict(image='images/1234.jpg', turns=[turn('Genre?', 'Travel')],
             source='OCRVQADataset', id='1234_1'),
    ]
    _, convs = build('OCRVQADataset', ann_file=ann, multi_turn=True)
    assert [c['turns'] for c in convs] == [[turn('Who wrote this book?', 'Jane Doe'),
                                            turn('Genre?', 'Travel')]]


def test_ocrvqa_dataset_json_split_and_extension(tmp_path):
    def book(split, url):
        return {'imageURL': url, 'questions': ['Title?'], 'answers': ['A Title'],
                'title': 'A Title', 'genre': 'Travel', 'split': split}
    ann = dump(tmp_path / 'dataset.json', {
        '111': book(1, 'http://x/images/I/51Jb.jpg'), '222': book(2, 'http://x/I/9.gif'),
        '333': book(1, 'http://x/I/7.png')})
    _, convs = build('OCRVQADataset', ann_file=ann, img_prefix='images', split=1)
    assert [(c['image'], c['id']) for c in convs] == [('images/111.jpg', '111_0'),
                                                      ('images/333.png', '333_0')]
    _, convs = build('OCRVQADataset', ann_file=ann)
    assert len(convs) == 3


# --------------------------------------------------------------------------- short-answer VQA
def test_vqa_most_frequent_answer(tmp_path):
    ann = dump(tmp_path / 'vqa_train.json', [
        {'question_id': 262148000, 'question': 'Where is he looking?',
         'answer': ['table', 'down', 'down', 'at table', 'table', 'down'],
         'image': 'val2014/COCO_val2014_000000262148.jpg', 'dataset': 'vqa'},
        {'question_id': 5, 'question': 'Tie?', 'answer': ['b', 'a', 'a', 'b'],
         'image': 'x.jpg', 'dataset': 'vqa'},
    ])
    _, convs = build('VQADataset', ann_file=ann)
    assert strip_idx(convs)[0] == dict(
        image='val2014/COCO_val2014_000000262148.jpg',
        turns=[turn('Where is he looking?', 'down')], source='VQADataset', id=262148000)
    assert convs[1]['turns'][0]['response'] == 'b'  # ties: the first listed


def test_gqa_short_and_full_answer(tmp_path):
    ann = dump(tmp_path / 'questions.json', {'02930152': {
        'imageId': '2354786', 'question': 'Is the sky dark?', 'answer': 'yes',
        'fullAnswer': 'Yes, the sky is dark.', 'types': {}}})
    _, convs = build('GQADataset', ann_file=ann, img_prefix='images')
    assert strip_idx(convs) == [dict(image='images/2354786.jpg',
                                     turns=[turn('Is the sky dark?', 'yes')],
                                     source='GQADataset', id='02930152')]
    _, convs = build('GQADataset', ann_file=ann, use_full_answer=True)
    assert convs[0]['turns'][0]['response'] == 'Yes, the sky is dark.'


def test_clevr(tmp_path):
    ann = dump(tmp_path / 'CLEVR_train_questions.json', {'info': {}, 'questions': [
        {'image_index': 0, 'split': 'train', 'image_filename': 'CLEVR_train_000000.png',
         'question_index': 4, 'question': 'How many cubes?', 'answer': '3'}]})
    _, convs = build('CLEVRDataset', ann_file=ann, img_prefix='images')
    assert strip_idx(convs) == [dict(image='images/train/CLEVR_train_000000.png',
                                     turns=[turn('How many cubes?', '3')],
                                     source='CLEVRDataset', id=4)]


def test_nlvr_v1(tmp_path):
    ann = dump(tmp_path / 'train.json', [
        {'sentence': 'There is a box with 2 triangles.', 'label': 'true',
         'identifier': '3297-0', 'directory': '54', 'evals': {}},
        {'sentence': 'No blue.', 'label': 'false', 'identifier': '1-2', 'directory': '1'}],
        jsonl=True)
    _, convs = build('NLVRv1Dataset', ann_file=ann, image_index=2)
    assert strip_idx(convs)[0] == dict(
        image='images/54/train-3297-0-2.png',
        turns=[turn('There is a box with 2 triangles.\nIs this statement true or false?',
                    'True')],
        source='NLVRv1Dataset', id='3297-0')
    assert convs[1]['turns'][0]['response'] == 'False'
    _, drawn = build('NLVRv1Dataset', ann_file=ann, split='dev')
    assert drawn[0]['image'][:-5] == 'images/54/dev-3297-0-'
    assert 0 <= int(drawn[0]['image'][-5]) <= 5


def test_nlvr_v2(tmp_path):
    ann = dump(tmp_path / 'dev.json', [
        {'sentence': 'The right image shows a walkway.', 'label': 'False',
         'identifier': 'dev-850-0-0', 'left_url': 'https://a', 'right_url': 'https://b'},
        {'sentence': 'Two dogs.', 'label': 'True', 'identifier': 'train-10171-0-1',
         'directory': 24}], jsonl=True)
    _, convs = build('NLVRv2Dataset', ann_file=ann, img_prefix='dev')
    assert [c['image'] for c in convs] == ['dev/dev-850-0-img0.png',
                                           'dev/24/train-10171-0-img0.png']
    assert [c['turns'][0]['response'] for c in convs] == ['False', 'True']
    _, right = build('NLVRv2Dataset', ann_file=ann, side='right')
    assert right[0]['image'] == 'dev-850-0-img1.png'


def test_snli_ve(tmp_path):
    ann = dump(tmp_path / 'snli_ve_train.jsonl', [
        {'Flickr30K_ID': '3416050480', 'pairID': '3416050480.jpg#4r1n',
         'sentence1': 'A woman.', 'sentence2': 'the woman is very happy',
         'gold_label': 'neutral'}], jsonl=True)
    _, convs = build('SNLIVEDataset', ann_file=ann, img_prefix='flickr30k_images')
    assert strip_idx(convs) == [dict(
        image='flickr30k_images/3416050480.jpg',
        turns=[turn('the woman is very happy\nDoes the image entail this statement, '
                    'contradict it, or is it neutral?', 'neutral')],
        source='SNLIVEDataset', id='3416050480.jpg#4r1n')]


def test_text_ocr_joins_legible_words(tmp_path):
    def ann(i, word):
        return {'id': f'a_{i}', 'image_id': 'a', 'bbox': [0, 0, 1, 1], 'utf8_string': word}
    dump(tmp_path / 'TextOCR_0.1_train.json', {
        'imgs': {'a': {'id': 'a', 'file_name': 'train/a.jpg', 'set': 'train'},
                 'b': {'id': 'b', 'file_name': 'train/b.jpg', 'set': 'train'}},
        'anns': {'a_1': ann(1, 'Tiredness'), 'a_2': ann(2, '.'), 'a_3': ann(3, 'kills'),
                 'b_1': ann(1, '.')},
        'imgToAnns': {'a': ['a_1', 'a_2', 'a_3'], 'b': ['b_1']}})
    _, convs = build('TextOCRDataset', ann_file=str(tmp_path / 'TextOCR_0.1_train.json'),
                     img_prefix='textocr')
    assert strip_idx(convs) == [dict(image='textocr/train/a.jpg',
                                     turns=[turn('What text is in the image?', 'Tiredness kills')],
                                     source='TextOCRDataset', id='a')]


# --------------------------------------------------------------------------- language-only
def test_dolly_context_becomes_input(tmp_path):
    ann = dump(tmp_path / 'databricks-dolly-15k.jsonl', [
        {'instruction': 'When did Virgin Australia start?', 'context': 'It commenced\nin 2000.',
         'response': 'On 31 August 2000.', 'category': 'closed_qa'},
        {'instruction': 'List two fruits.', 'context': '', 'response': '- apple\n- pear',
         'category': 'brainstorming'}], jsonl=True)
    dataset, convs = build('DollyDataset', ann_file=ann)
    assert strip_idx(convs) == [
        dict(image=None, turns=[turn('When did Virgin Australia start?', 'On 31 August 2000.',
                                     input='It commenced\nin 2000.')],
             source='DollyDataset', id=0),
        dict(image=None, turns=[turn('List two fruits.', '- apple\n- pear')],
             source='DollyDataset', id=1),
    ]
    assert dataset.modality == 'lang' and dataset.metainfo['modality'] == 'lang'


def test_alpaca_gpt4(tmp_path):
    ann = dump(tmp_path / 'alpaca_gpt4_data.json', [
        {'instruction': 'Give three tips.', 'input': '', 'output': '1. Eat.\n2. Sleep.\n3. Run.'},
        {'instruction': 'Translate.', 'input': 'Bonjour', 'output': 'Hello'}])
    _, convs = build('AlpacaGPT4Dataset', ann_file=ann)
    assert [c['turns'] for c in convs] == [
        [turn('Give three tips.', '1. Eat.\n2. Sleep.\n3. Run.')],
        [turn('Translate.', 'Hello', input='Bonjour')]]
    assert all(c['image'] is None for c in convs)


def test_baize_multi_turn_keeps_newlines_and_drops_trailing_human(tmp_path):
    text = ('The conversation between human and AI assistant.\n'
            '[|Human|] What are the primary colors?\n'
            '[|AI|] Red, blue and yellow.\nIn painting, at least.\n'
            '[|Human|] Why?\n[|AI|] Tradition.\n[|Human|] ')
    ann = dump(tmp_path / 'quora_chat_data.json', [{'topic': 'colors', 'input': text}])
    _, convs = build('BaizeDataset', ann_file=ann)
    assert strip_idx(convs) == [dict(
        image=None,
        turns=[turn('What are the primary colors?',
                    'Red, blue and yellow.\nIn painting, at least.'), turn('Why?', 'Tradition.')],
        source='BaizeDataset', id=0)]


def test_modality_class_attributes():
    vl = ['LlavaDataset', 'LlavaDialDataset', 'CcSbuAlignDataset', 'AOKVQADataset',
          'COCOCaptionDataset', 'OCRVQADataset', 'VQADataset', 'GQADataset', 'CLEVRDataset',
          'NLVRv1Dataset', 'NLVRv2Dataset', 'SNLIVEDataset', 'TextOCRDataset']
    lang = ['DollyDataset', 'AlpacaGPT4Dataset', 'BaizeDataset']
    for name in vl + lang:
        cls = DATASETS.get(name)
        assert issubclass(cls, ConversationDataset), name
        expected = 'vl' if name in vl else 'lang'
        assert cls.modality == cls.METAINFO['modality'] == expected, name


# --------------------------------------------------------------------------- shared behaviour
def alpaca_file(tmp_path, n, name='alpaca.json'):
    return dump(tmp_path / name, [{'instruction': f'Q{i}', 'input': '', 'output': f'A{i}'}
                                  for i in range(n)])


def test_sample_is_seeded_subset(tmp_path):
    ann = alpaca_file(tmp_path, 100)
    ids = {}
    for seed in (0, 0, 1):
        dataset, convs = build('AlpacaGPT4Dataset', ann_file=ann, sample=10, sample_seed=seed)
        assert len(dataset) == 10
        ids.setdefault(seed, []).append([c['id'] for c in convs])
    assert ids[0][0] == ids[0][1] == sorted(ids[0][0])
    assert ids[0][0] != ids[1][0]
    assert len(build('AlpacaGPT4Dataset', ann_file=ann, sample=500)[0]) == 100


def test_several_files_are_concatenated_in_order(tmp_path):
    first = alpaca_file(tmp_path, 2, 'a.json')
    second = alpaca_file(tmp_path, 3, 'b.json')
    _, convs = build('AlpacaGPT4Dataset', ann_file=[first, second])
    assert [c['turns'][0]['instruction'] for c in convs] == ['Q0', 'Q1', 'Q0', 'Q1', 'Q2']


def test_empty_response_is_skipped_with_warning(tmp_path, monkeypatch):
    ann = dump(tmp_path / 'alpaca.json', [
        {'instruction': 'Q0', 'input': '', 'output': 'A0'},
        {'instruction': 'Q1', 'input': '', 'output': '   '}])
    logged = []
    monkeypatch.setattr('mmgpt.datasets.base.print_log',
                        lambda msg, **kwargs: logged.append((msg, kwargs['level'])))
    _, convs = build('AlpacaGPT4Dataset', ann_file=ann)
    assert [c['id'] for c in convs] == [0]
    assert len(logged) == 1 and logged[0][1] == logging.WARNING
    assert 'skipped 1 conversation' in logged[0][0] and 'alpaca.json: record 1' in logged[0][0]


def test_lazy_init_reads_on_first_access(tmp_path):
    ann = tmp_path / 'alpaca.json'
    dataset = DATASETS.build(dict(type='AlpacaGPT4Dataset', ann_file=str(ann), lazy_init=True))
    alpaca_file(tmp_path, 4)
    assert len(dataset) == 4


def test_pipeline_receives_the_conversation(tmp_path):
    ann = alpaca_file(tmp_path, 2)
    dataset = DATASETS.build(dict(type='AlpacaGPT4Dataset', ann_file=ann,
                                  pipeline=[lambda results: results['turns']]))
    assert dataset[1] == [turn('Q1', 'A1')]


def test_bad_constructor_arguments(tmp_path):
    ann = alpaca_file(tmp_path, 1)
    with pytest.raises(ValueError, match='sample'):
        build('AlpacaGPT4Dataset', ann_file=ann, sample=-1)
    with pytest.raises(ValueError, match='ann_file'):
        build('AlpacaGPT4Dataset', ann_file=[])
    with pytest.raises(ValueError, match='option_prob'):
        build('AOKVQADataset', ann_file=ann, option_prob=2)
    with pytest.raises(FileNotFoundError, match='missing.json'):
        build('AlpacaGPT4Dataset', ann_file=str(tmp_path / 'missing.json'))
