"""mmgpt_collate: split by modality, right padding, image layout, config binding."""
import pytest
import torch
from mmengine.runner import Runner
from pipeline_fixtures import TOKENIZER, pipeline, turn, write_image

from mmgpt.datasets import mmgpt_collate
from mmgpt.registry import FUNCTIONS
from mmgpt.tokenizer import build_tokenizer

PAD = 99


def sample(ids, labels, image=None):
    out = dict(input_ids=torch.tensor(ids), labels=torch.tensor(labels),
               modality='lang' if image is None else 'vl', dataset='Toy')
    if image is not None:
        out['image'] = image
    return out


def test_registered():
    from mmengine.registry import FUNCTIONS as ROOT_FUNCTIONS

    assert FUNCTIONS.get('mmgpt_collate') is mmgpt_collate
    # Runner.build_dataloader looks in the root registry, without the default scope.
    assert ROOT_FUNCTIONS.get('mmgpt_collate') is mmgpt_collate
    assert ROOT_FUNCTIONS.get('mmgpt.mmgpt_collate') is mmgpt_collate


def test_split_pad_and_layout():
    img1, img2 = torch.rand(3, 8, 8), torch.rand(3, 8, 8)
    batch = mmgpt_collate([
        sample([1, 2, 3], [-100, 2, 3], img1),
        sample([4, 5, 6, 7, 8], [-100, -100, 6, 7, 8]),
        sample([1, 9], [-100, 9], img2),
    ], pad_token_id=PAD)
    assert set(batch) == {'vl', 'lang'}
    vl, lang = batch['vl'], batch['lang']
    assert set(vl) == {'input_ids', 'attention_mask', 'labels', 'images'}
    assert vl['input_ids'].tolist() == [[1, 2, 3], [1, 9, PAD]]
    assert vl['attention_mask'].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert vl['labels'].tolist() == [[-100, 2, 3], [-100, 9, -100]]
    assert vl['images'].shape == (2, 1, 1, 3, 8, 8)
    assert torch.equal(vl['images'][1, 0, 0], img2)
    assert set(lang) == {'input_ids', 'attention_mask', 'labels'}
    assert lang['input_ids'].tolist() == [[4, 5, 6, 7, 8]]
    for side in (vl, lang):
        assert side['input_ids'].dtype == side['labels'].dtype == torch.long
        assert side['attention_mask'].dtype == torch.long


def test_one_modality_gives_none():
    only_lang = mmgpt_collate([sample([1], [1])], pad_token_id=PAD)
    assert only_lang['vl'] is None and only_lang['lang'] is not None
    only_vl = mmgpt_collate([sample([1], [1], torch.zeros(3, 2, 2))], pad_token_id=PAD)
    assert only_vl['lang'] is None and only_vl['vl']['images'].shape == (1, 1, 1, 3, 2, 2)


def test_errors():
    with pytest.raises(ValueError, match='no image'):
        mmgpt_collate([dict(sample([1], [1]), modality='vl')], pad_token_id=PAD)
    with pytest.raises(ValueError, match='unknown modality'):
        mmgpt_collate([dict(sample([1], [1]), modality='video')], pad_token_id=PAD)


def test_dataloader_from_config(tmp_path):
    """The config form: JointDataset + JointSampler + collate_fn with pad_token_id."""
    tok = build_tokenizer(TOKENIZER)
    img = write_image(tmp_path / 'a.png')
    vl = [dict(image=img, turns=[turn('What?', 'A red box.'), turn('Sure?', 'Yes.')]),
          dict(image=img, turns=[turn('Colour?', 'Red.')])]
    lang = [dict(image=None, turns=[turn('Say hi.', 'Hi.')]),
            dict(image=None, turns=[turn('Add.', '3', input='1 and 2')])]
    loader = Runner.build_dataloader(dict(
        batch_size=2, num_workers=0,
        dataset=dict(
            type='JointDataset', pipeline=pipeline(),
            vl=[dict(type='ToyConversationDataset', conversations=vl, modality='vl')],
            lang=[dict(type='ToyConversationDataset', conversations=lang, modality='lang')]),
        sampler=dict(type='JointSampler', vl_per_iter=1, lang_per_iter=1),
        collate_fn=dict(type='mmgpt_collate', pad_token_id=tok.pad_token_id)), seed=0)
    batches = list(loader)
    assert len(batches) == 2
    for batch in batches:
        assert batch['vl']['images'].shape == (1, 1, 1, 3, 32, 32)
        assert batch['vl']['input_ids'].shape[0] == batch['lang']['input_ids'].shape[0] == 1
        for side in ('vl', 'lang'):
            ids = batch[side]['input_ids'][0]
            assert ids[0] == tok.bos_token_id
            assert (batch[side]['labels'] != -100).any()
        assert (batch['vl']['input_ids'] == tok.convert_tokens_to_ids('<image>')).sum() == 1
        assert (batch['lang']['input_ids'] == tok.convert_tokens_to_ids('<image>')).sum() == 0
