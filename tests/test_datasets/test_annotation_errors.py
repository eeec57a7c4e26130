"""A malformed annotation file stops the build with one AnnotationError a user can act on.

Each message must name the file, the record (index, key or 1-based JSONL line) and what
was expected there; no bare KeyError / IndexError / JSONDecodeError reaches the user.
"""
import json

import pytest

from mmgpt.datasets import AnnotationError
from mmgpt.registry import DATASETS


def dump(path, obj, jsonl=False):
    """Write ``obj`` (a JSONL list of lines when ``jsonl``) and return the path as str."""
    text = '\n'.join(json.dumps(o) for o in obj) + '\n' if jsonl else json.dumps(obj)
    path.write_text(text, encoding='utf-8')
    return str(path)


def build_error(type, **kwargs):
    """Build a dataset that must fail; return the AnnotationError message."""
    with pytest.raises(AnnotationError) as info:
        DATASETS.build(dict(type=type, **kwargs))
    assert isinstance(info.value, ValueError)
    return str(info.value)


def alpaca(i):
    return {'instruction': f'Q{i}', 'input': '', 'output': f'A{i}'}


def dolly(i):
    return {'instruction': f'Q{i}', 'context': '', 'response': f'A{i}', 'category': 'qa'}


def aokvqa(**changes):
    record = {'split': 'train', 'image_id': 1, 'question_id': 'q', 'question': 'Q?',
              'choices': ['a', 'b', 'c', 'd'], 'correct_choice_idx': 1,
              'rationales': ['r1', 'r2', 'r3']}
    record.update(changes)
    return record


def assert_mentions(message, *parts):
    for part in parts:
        assert part in message, f'{part!r} not in:\n{message}'


def test_invalid_json(tmp_path):
    path = tmp_path / 'alpaca_gpt4_data.json'
    path.write_text('[\n {"instruction": "Q", "input": "", "output": "A"},\n'
                    ' {"instruction" "Q"}\n]')
    message = build_error('AlpacaGPT4Dataset', ann_file=str(path))
    assert_mentions(message, str(path), 'line 3', 'invalid JSON', "Expecting ':' delimiter",
                    'expected a JSON document')


def test_invalid_jsonl_lines_are_all_reported_by_line_number(tmp_path):
    path = tmp_path / 'databricks-dolly-15k.jsonl'
    lines = [json.dumps(dolly(0)), '{"instruction": "Q1",', '', json.dumps(dolly(2)), 'oops']
    path.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    message = build_error('DollyDataset', ann_file=str(path))
    assert_mentions(message, '2 bad annotation record(s)', f'{path}: line 2: invalid JSON',
                    f'{path}: line 5: invalid JSON')


@pytest.mark.parametrize('jsonl', [False, True])
def test_non_utf8_bytes(tmp_path, jsonl):
    path = tmp_path / ('dolly.jsonl' if jsonl else 'alpaca.json')
    good = json.dumps(dolly(0) if jsonl else [alpaca(0)]).encode()
    path.write_bytes(good + b'\n' + b'{"instruction": "caf\xe9"}\n')
    message = build_error('DollyDataset' if jsonl else 'AlpacaGPT4Dataset', ann_file=str(path))
    assert_mentions(message, str(path), 'line 2', 'byte 0xe9', 'expected UTF-8 text')


def test_wrong_top_level_type(tmp_path):
    path = dump(tmp_path / 'alpaca.json', {'instruction': 'Q', 'output': 'A'})
    message = build_error('AlpacaGPT4Dataset', ann_file=path)
    assert_mentions(message, path, 'top level', 'expected the file to be a list of records',
                    'got an object')
    path = dump(tmp_path / 'filter_cap.json', [{'image_id': '2', 'caption': 'c'}])
    message = build_error('CcSbuAlignDataset', ann_file=path)
    assert_mentions(message, path, 'top level', 'expected an object')
    path = dump(tmp_path / 'cap.json', {'captions': []})
    message = build_error('CcSbuAlignDataset', ann_file=path)
    assert_mentions(message, path, 'top level', "missing key 'annotations' (expected a list)")


def test_record_of_wrong_type(tmp_path):
    path = dump(tmp_path / 'alpaca.json', [alpaca(0), ['Q', 'A']])
    message = build_error('AlpacaGPT4Dataset', ann_file=path)
    assert_mentions(message, f'{path}: record 1: expected an object, got a list')


def test_missing_key(tmp_path):
    record = aokvqa()
    del record['question']
    path = dump(tmp_path / 'aokvqa_v1p0_train.json', [aokvqa(), record])
    message = build_error('AOKVQADataset', ann_file=path)
    assert_mentions(message, f'{path}: record 1: ', "missing key 'question'",
                    '(expected a string)')


def test_wrong_field_type(tmp_path):
    path = dump(tmp_path / 'aokvqa.json', [aokvqa(image_id='299207'), aokvqa(choices='a b'),
                                          aokvqa(rationales=['r', 3]),
                                          aokvqa(correct_choice_idx=True)])
    message = build_error('AOKVQADataset', ann_file=path)
    assert_mentions(
        message, '4 bad annotation record(s)',
        f"{path}: record 0: key 'image_id': expected an integer, got a string '299207'",
        f"{path}: record 1: key 'choices': expected a list",
        f"{path}: record 2: key 'rationales': expected every item to be a string, got an "
        'integer 3 at position 1',
        f"{path}: record 3: key 'correct_choice_idx': expected an integer, got a boolean")


def test_index_out_of_range(tmp_path):
    path = dump(tmp_path / 'aokvqa.json', [aokvqa(correct_choice_idx=7)])
    message = build_error('AOKVQADataset', ann_file=path)
    assert_mentions(message, f'{path}: record 0: ', "key 'correct_choice_idx'",
                    'expected an index from 0 to 3, got 7')


def llava(*speakers):
    messages = [{'from': s, 'value': s} for s in speakers]
    messages[0]['value'] = '<image>\n' + messages[0]['value']
    return {'id': '1', 'image': '1.jpg', 'conversations': messages}


def test_llava_conversation_must_alternate(tmp_path):
    path = dump(tmp_path / 'conversation_58k.json', [
        llava('human', 'gpt'), llava('human', 'gpt', 'gpt', 'human'), llava('gpt', 'human'),
        llava('human', 'gpt', 'human')])
    message = build_error('LlavaDialDataset', ann_file=path)
    assert_mentions(
        message, '3 bad annotation record(s)',
        f'{path}: record 1: ', "expected turns alternating human/gpt starting with human, "
        "got 'gpt' at position 2",
        f"{path}: record 2: ", "got 'gpt' at position 0",
        f'{path}: record 3: ', 'expected human/gpt pairs, got 3 messages')


def test_llava_image_marker_outside_first_turn(tmp_path):
    record = llava('human', 'gpt', 'human', 'gpt')
    record['conversations'][2]['value'] = 'And this one?\n<image>'
    path = dump(tmp_path / 'conversation_58k.json', [record])
    message = build_error('LlavaDialDataset', ann_file=path)
    assert_mentions(message, f'{path}: record 0: ', "expected '<image>' only in the first",
                    'turn 1')


def test_baize_must_alternate(tmp_path):
    path = dump(tmp_path / 'baize.json', [
        {'topic': 't', 'input': 'Preamble\n[|Human|] Hi\n[|Human|] Hello?\n[|AI|] Hi.'},
        {'topic': 't', 'input': 'no markers'}])
    message = build_error('BaizeDataset', ann_file=path)
    assert_mentions(message, f'{path}: record 0: ', 'alternating [|Human|]/[|AI|], got '
                    'Human/Human at message 0', f'{path}: record 1: ', 'found none')


def test_keyed_records_named_by_key(tmp_path):
    path = dump(tmp_path / 'questions.json', {'0293': {'imageId': '1', 'question': 'Q?'}})
    message = build_error('GQADataset', ann_file=path)
    assert_mentions(message, f"{path}: record '0293': missing key 'answer'")
    path = dump(tmp_path / 'dataset.json', {'111': {
        'imageURL': 'http://x/1.jpg', 'questions': ['a?', 'b?'], 'answers': ['a'], 'split': 1}})
    message = build_error('OCRVQADataset', ann_file=path)
    assert_mentions(message, f"{path}: record '111': expected as many 'answers' as "
                    "'questions', got 1 and 2")


def test_text_ocr_unknown_annotation(tmp_path):
    path = dump(tmp_path / 'TextOCR_0.1_train.json', {
        'imgs': {'a': {'id': 'a', 'file_name': 'train/a.jpg'}}, 'anns': {},
        'imgToAnns': {'a': ['a_1']}})
    message = build_error('TextOCRDataset', ann_file=path)
    assert_mentions(message, f"{path}: record 'a': imgToAnns lists annotation 'a_1', "
                    "expected a key of 'anns'")


def test_label_values(tmp_path):
    path = dump(tmp_path / 'nlvr.json', [
        {'sentence': 's', 'label': 'maybe', 'identifier': '1-0', 'directory': '1'}], jsonl=True)
    message = build_error('NLVRv1Dataset', ann_file=path)
    assert_mentions(message, f"{path}: line 1: key 'label': expected 'true' or 'false', "
                    "got 'maybe'")
    path = dump(tmp_path / 'snli.jsonl', [
        {'Flickr30K_ID': '1', 'sentence2': 's', 'gold_label': '-'}], jsonl=True)
    message = build_error('SNLIVEDataset', ann_file=path)
    assert_mentions(message, f"{path}: line 1: key 'gold_label': expected one of")


def test_errors_are_limited_and_counted_across_files(tmp_path):
    bad = [{'instruction': 'Q'}] * 30
    first = dump(tmp_path / 'first.json', bad)
    second = dump(tmp_path / 'second.json', [alpaca(0), {'input': ''}])
    message = build_error('AlpacaGPT4Dataset', ann_file=[first, second], max_errors=5)
    assert_mentions(message, 'AlpacaGPT4Dataset: 31 bad annotation record(s)',
                    f"{first}: record 4: missing key 'output'", '... and 26 more')
    assert f'{first}: record 5:' not in message
    message = build_error('AlpacaGPT4Dataset', ann_file=[first, second])
    assert message.count('\n  ') == 21  # 20 listed + the "... and N more" line
    message = build_error('AlpacaGPT4Dataset', ann_file=[second])
    assert_mentions(message, f"{second}: record 1: missing key 'instruction'")


# One valid record per format, (type, layout, record); layout says how records are stored.
VALID = [
    ('LlavaDataset', 'list', llava('human', 'gpt')),
    ('CcSbuAlignDataset', 'annotations', {'image_id': '2', 'caption': 'c'}),
    ('AOKVQADataset', 'list', aokvqa()),
    ('COCOCaptionDataset', 'list', {'image': 'a.jpg', 'caption': ['a', 'b'], 'image_id': 'c'}),
    ('OCRVQADataset', 'keyed', {'imageURL': 'u.jpg', 'questions': ['q'], 'answers': ['a'],
                                'split': 1}),
    ('VQADataset', 'list', {'question_id': 1, 'question': 'q', 'answer': ['a'],
                            'image': 'i.jpg'}),
    ('GQADataset', 'keyed', {'imageId': '1', 'question': 'q', 'answer': 'a',
                             'fullAnswer': 'A.'}),
    ('CLEVRDataset', 'questions', {'split': 'train', 'image_filename': 'c.png',
                                   'question_index': 0, 'question': 'q', 'answer': 'a'}),
    ('NLVRv1Dataset', 'jsonl', {'sentence': 's', 'label': 'true', 'identifier': '1-0',
                                'directory': '1'}),
    ('NLVRv2Dataset', 'jsonl', {'sentence': 's', 'label': 'True', 'identifier': 'dev-1-0-0'}),
    ('SNLIVEDataset', 'jsonl', {'Flickr30K_ID': '1', 'sentence2': 's',
                                'gold_label': 'neutral', 'pairID': 'p'}),
    ('DollyDataset', 'jsonl', dolly(0)),
    ('AlpacaGPT4Dataset', 'list', alpaca(0)),
    ('BaizeDataset', 'list', {'topic': 't', 'input': '[|Human|] a\n[|AI|] b\n[|Human|] '}),
]
JUNK = [None, True, 7, 1.5, 'text', [], ['x', 3], {}, {'k': None}]


def write_layout(path, layout, records):
    if layout == 'jsonl':
        return dump(path, records, jsonl=True)
    keyed = {str(i): r for i, r in enumerate(records)}
    return dump(path, {'list': records, 'keyed': keyed, 'annotations': {'annotations': records},
                       'questions': {'questions': records}}[layout])


@pytest.mark.parametrize('type,layout,valid', VALID, ids=[v[0] for v in VALID])
def test_any_wrong_value_is_an_annotation_error(tmp_path, type, layout, valid):
    """Replacing or removing any field gives conversations or an AnnotationError, no other."""
    path = write_layout(tmp_path / 'ann.json', layout, [valid])
    assert len(DATASETS.build(dict(type=type, ann_file=path))) >= 1
    records = list(JUNK)
    for key in valid:
        records.append({k: v for k, v in valid.items() if k != key})
        records += [{**valid, key: junk} for junk in JUNK]
    path = write_layout(tmp_path / 'ann.json', layout, records)
    message = build_error(type, ann_file=path, max_errors=1000)
    assert message.count(f'{path}: ') >= len(JUNK)
