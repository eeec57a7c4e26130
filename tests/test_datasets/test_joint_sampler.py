"""JointSampler: per-iteration modality mix, epochs, rank disjointness, exact resume."""
import itertools
from collections import Counter

import pytest
from mmengine.runner import Runner, loops

from mmgpt.datasets import JointDataset, JointSampler
from mmgpt.registry import DATA_SAMPLERS


class IndexDataset:
    """A stand-in JointDataset whose samples are their own indices."""

    def __init__(self, num_vl, num_lang):
        self.sizes = dict(vl=num_vl, lang=num_lang)

    def __len__(self):
        return self.sizes['vl'] + self.sizes['lang']

    def __getitem__(self, idx):
        return idx


def batches(sampler):
    size = sampler.batch_size
    idx = list(sampler)
    return [idx[i:i + size] for i in range(0, len(idx), size)]


def test_registered():
    assert DATA_SAMPLERS.get('JointSampler') is JointSampler


def test_every_batch_has_both_modalities_and_vl_defines_the_epoch():
    ds = IndexDataset(num_vl=12, num_lang=5)
    sampler = JointSampler(ds, seed=0, rank=0, world_size=1)
    assert sampler.iters_per_epoch == 12 and len(sampler) == 24
    vl_seen = []
    for vl, lang in batches(sampler):
        assert 0 <= vl < 12 and 12 <= lang < 17
        vl_seen.append(vl)
    assert sorted(vl_seen) == list(range(12))
    sampler.set_epoch(1)
    assert [b[0] for b in batches(sampler)] != vl_seen  # reshuffled per epoch


def test_ratio_and_batch_size():
    sampler = JointSampler(IndexDataset(10, 10), vl_per_iter=2, lang_per_iter=3, seed=1,
                           rank=0, world_size=1)
    assert sampler.batch_size == 5 and sampler.iters_per_epoch == 5
    for batch in batches(sampler):
        assert all(i < 10 for i in batch[:2]) and all(i >= 10 for i in batch[2:])
    vl_only = JointSampler(IndexDataset(4, 0), lang_per_iter=0, seed=1, rank=0, world_size=1)
    assert sorted(vl_only) == [0, 1, 2, 3]


def test_language_stream_is_an_endless_reshuffled_permutation():
    ds = IndexDataset(num_vl=7, num_lang=3)
    sampler = JointSampler(ds, seed=3, rank=0, world_size=1)
    stream = []
    for epoch in range(3):  # 21 language samples = 7 passes over 3
        sampler.set_epoch(epoch)
        stream += [b[1] for b in batches(sampler)]
    passes = [stream[i:i + 3] for i in range(0, 21, 3)]
    assert all(sorted(p) == [7, 8, 9] for p in passes)
    assert len({tuple(p) for p in passes}) > 1


def test_ranks_are_disjoint():
    ds = IndexDataset(num_vl=20, num_lang=8)
    ranks = [JointSampler(ds, seed=5, rank=r, world_size=2) for r in range(2)]
    assert [s.iters_per_epoch for s in ranks] == [10, 10]
    lang = []
    for epoch in range(2):
        for s in ranks:
            s.set_epoch(epoch)
        per_rank = [batches(s) for s in ranks]
        vl = [[b[0] for b in bs] for bs in per_rank]
        assert not set(vl[0]) & set(vl[1])
        assert sorted(vl[0] + vl[1]) == list(range(20))
        lang += [b[1] for pair in zip(*per_rank) for b in pair]
    # Interleaving the ranks' language streams gives the global stream (continued across
    # epochs): each block of 8 is a permutation, so the ranks share no sample in a pass.
    assert len(lang) == 40
    assert all(sorted(lang[i:i + 8]) == list(range(20, 28)) for i in range(0, 40, 8))


def test_round_up_gives_every_rank_the_same_iterations():
    ds = IndexDataset(num_vl=7, num_lang=4)
    ranks = [JointSampler(ds, seed=0, rank=r, world_size=3) for r in range(3)]
    assert {len(s) for s in ranks} == {2 * 3}
    vl = Counter(b[0] for s in ranks for b in batches(s))
    assert set(vl) == set(range(7)) and sum(vl.values()) == 9


def test_same_seed_same_order_different_seed_different_order():
    ds = IndexDataset(30, 30)
    a, b, c = (JointSampler(ds, seed=s, rank=0, world_size=1) for s in (1, 1, 2))
    assert list(a) == list(b) and list(a) != list(c)


def test_invalid_arguments():
    with pytest.raises(TypeError, match='sizes'):
        JointSampler(list(range(5)), seed=0)
    with pytest.raises(ValueError, match='needs both'):
        JointSampler(IndexDataset(5, 0), seed=0)
    with pytest.raises(ValueError, match='rank'):
        JointSampler(IndexDataset(5, 5), seed=0, rank=2, world_size=2)


def loader(seed, rank=0, world_size=1, num_vl=9, num_lang=4):
    ds = IndexDataset(num_vl, num_lang)
    sampler = JointSampler(ds, seed=seed, rank=rank, world_size=world_size)
    return Runner.build_dataloader(dict(
        dataset=ds, sampler=sampler, batch_size=sampler.batch_size, num_workers=0,
        collate_fn=dict(type='pseudo_collate')))


@pytest.mark.parametrize('rank,world_size', [(0, 1), (1, 2)])
def test_resume_mid_run_equals_uninterrupted_iter_based(monkeypatch, rank, world_size):
    """What IterBasedTrainLoop does: a fresh dataloader iterator, then skip k batches."""
    monkeypatch.setattr(loops, 'time', type('NoSleep', (), {'sleep': staticmethod(id)}))
    total = 23  # crosses several epoch boundaries (9 / world_size iterations each)
    full = list(itertools.islice(
        loops._InfiniteDataloaderIterator(loader(7, rank, world_size)), total))
    for k in (1, 4, 9, 10, 17):
        it = loops._InfiniteDataloaderIterator(loader(7, rank, world_size))
        for _ in range(k):  # IterBasedTrainLoop.run: 'Advance dataloader k steps'
            next(it)
        assert [next(it) for _ in range(total - k)] == full[k:]


def test_resume_mid_epoch_equals_uninterrupted_epoch_based():
    """DistSamplerSeedHook's set_epoch(e) before each epoch, then (for a resume inside
    epoch e, as ResumableEpochBasedTrainLoop does) k batches drawn and dropped."""
    dl = loader(11)
    full = []
    for epoch in range(4):
        dl.sampler.set_epoch(epoch)
        full.append(list(dl))
    for epoch, k in ((0, 3), (2, 0), (2, 5), (3, 8)):
        resumed = loader(11)
        resumed.sampler.set_epoch(epoch)
        batches = iter(resumed)
        for _ in range(k):
            next(batches)
        assert list(batches) == full[epoch][k:]


def test_with_joint_dataset():
    from pipeline_fixtures import ToyConversationDataset, turn

    vl = ToyConversationDataset([dict(image='a.png', turns=[turn('q', 'a')])] * 3)
    lang = ToyConversationDataset([dict(image=None, turns=[turn('q', 'a')])] * 2,
                                  modality='lang')
    joint = JointDataset(vl=[vl, vl], lang=[lang])
    assert joint.sizes == dict(vl=6, lang=2) and len(joint) == 8
    assert joint.modality_of(5) == 'vl' and joint.modality_of(6) == 'lang'
    assert joint.locate(4) == (vl, 1) and joint.locate(7) == (lang, 1)
    sampler = JointSampler(joint, seed=0, rank=0, world_size=1)
    assert all(joint.modality_of(v) == 'vl' and joint.modality_of(w) == 'lang'
               for v, w in batches(sampler))
    with pytest.raises(ValueError, match="modality 'lang'"):
        JointDataset(vl=[lang])


def test_joint_dataset_checks_sample_modality():
    from pipeline_fixtures import ToyConversationDataset, pipeline, turn

    no_image = ToyConversationDataset([dict(image=None, turns=[turn('q', 'a')])],
                                      pipeline=pipeline())
    joint = JointDataset(vl=[no_image])
    with pytest.raises(ValueError, match="came out as 'lang'"):
        joint[0]
