"""The joint sampler: every iteration takes vision-language and language-only samples."""
from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmgpt.registry import DATA_SAMPLERS

__all__ = ['JointSampler']


@DATA_SAMPLERS.register_module()
class JointSampler(Sampler):
    """Yield, per iteration, ``vl_per_iter`` vision-language then ``lang_per_iter``
    language-only indices of a :class:`~mmgpt.datasets.JointDataset`.

    With the DataLoader's ``batch_size = vl_per_iter + lang_per_iter`` every batch of
    every rank holds both modalities (the paper: one of each, per GPU, per iteration).

    - The vision-language stream defines the epoch: each vision-language sample once per
      epoch across ranks, shuffled with ``seed + epoch`` and split across ranks like
      MMEngine's ``DefaultSampler`` (with ``round_up``: the list is padded by repeating
      its start so that every rank runs the same number of iterations).
    - The language-only stream is infinite: a seeded permutation per pass over the
      language data, reshuffled every pass, interleaved across ranks (position ``g`` of
      the global stream goes to rank ``g % world_size``). Epoch ``e`` of a rank starts
      where epoch ``e - 1`` stopped, so the streams of successive epochs continue.

    Every index is a pure function of ``(seed, epoch, rank, world_size)``: resuming with
    MMEngine (``set_epoch`` and skipping the first iterations, as ``IterBasedTrainLoop``
    does) gives exactly the samples of an uninterrupted run, provided the seed is the
    same (set ``randomness=dict(seed=...)`` in the config).

    Args:
        dataset: A dataset with ``sizes = dict(vl=..., lang=...)`` whose indices are the
            vision-language samples first, then the language-only ones.
        vl_per_iter (int): Vision-language samples per rank per iteration. Defaults to 1.
        lang_per_iter (int): Language-only samples per rank per iteration; 0 trains on
            vision-language data only. Defaults to 1.
        shuffle (bool): Shuffle both streams. Defaults to True.
        seed (int, optional): Shared by all ranks; None draws one and syncs it across
            ranks. Defaults to None.
        rank (int, optional): This rank; None asks ``mmengine.dist``. Defaults to None.
        world_size (int, optional): Number of ranks; None asks ``mmengine.dist``.
            Defaults to None.
    """

    def __init__(self, dataset, vl_per_iter: int = 1, lang_per_iter: int = 1,
                 shuffle: bool = True, seed: int | None = None, rank: int | None = None,
                 world_size: int | None = None) -> None:
        dist_rank, dist_world = get_dist_info()
        self.rank = dist_rank if rank is None else rank
        self.world_size = dist_world if world_size is None else world_size
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f'rank {self.rank} is not in [0, {self.world_size})')
        sizes = getattr(dataset, 'sizes', None)
        if not isinstance(sizes, dict):
            raise TypeError(f'JointSampler needs a dataset with `sizes` (a JointDataset), '
                            f'got {type(dataset).__name__}')
        self.num_vl, self.num_lang = int(sizes['vl']), int(sizes['lang'])
        if vl_per_iter < 1 or lang_per_iter < 0:
            raise ValueError('need vl_per_iter >= 1 and lang_per_iter >= 0, got '
                             f'{vl_per_iter} and {lang_per_iter}')
        if self.num_vl == 0 or (lang_per_iter and self.num_lang == 0):
            raise ValueError(f'JointSampler got {self.num_vl} vision-language and '
                             f'{self.num_lang} language-only samples; lang_per_iter='
                             f'{lang_per_iter} needs both')
        self.vl_per_iter, self.lang_per_iter = vl_per_iter, lang_per_iter
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.epoch = 0
        self.iters_per_epoch = math.ceil(self.num_vl / (self.world_size * vl_per_iter))

    @property
    def batch_size(self) -> int:
        """The DataLoader ``batch_size`` this sampler is meant for."""
        return self.vl_per_iter + self.lang_per_iter

    def __len__(self) -> int:
        """Indices per rank per epoch (``iters_per_epoch * batch_size``)."""
        return self.iters_per_epoch * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch (MMEngine calls this before each epoch and on resume)."""
        self.epoch = epoch

    def _vl_indices(self, epoch: int) -> np.ndarray:
        if self.shuffle:
            order = np.asarray(_torch_perm(self.num_vl, self.seed + epoch))
        else:
            order = np.arange(self.num_vl)
        total = self.iters_per_epoch * self.vl_per_iter * self.world_size
        order = np.resize(order, total)  # pads by repeating from the start
        return order[self.rank::self.world_size]

    def _lang_perm(self, pass_idx: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.num_lang)
        rng = np.random.default_rng([self.seed % 2**32, pass_idx, 0x6C616E67])
        return rng.permutation(self.num_lang)

    def _lang_indices(self, epoch: int) -> np.ndarray:
        per_epoch = self.iters_per_epoch * self.lang_per_iter
        steps = np.arange(epoch * per_epoch, (epoch + 1) * per_epoch, dtype=np.int64)
        positions = steps * self.world_size + self.rank
        passes, offsets = np.divmod(positions, self.num_lang)
        out = np.empty_like(positions)
        for p in np.unique(passes):
            sel = passes == p
            out[sel] = self._lang_perm(int(p))[offsets[sel]]
        return out + self.num_vl

    def indices(self, epoch: int | None = None) -> list:
        """All indices this rank yields in an epoch (default: the current one)."""
        epoch = self.epoch if epoch is None else epoch
        vl = self._vl_indices(epoch).reshape(self.iters_per_epoch, self.vl_per_iter)
        if not self.lang_per_iter:
            return vl.reshape(-1).tolist()
        lang = self._lang_indices(epoch).reshape(self.iters_per_epoch, self.lang_per_iter)
        return np.concatenate([vl, lang], axis=1).reshape(-1).tolist()

    def __iter__(self) -> Iterator[int]:
        """Iterate the indices of the current epoch (fixed when ``iter`` is called)."""
        return iter(self.indices())


def _torch_perm(n: int, seed: int) -> list:
    """``DefaultSampler``'s permutation (torch's generator seeded with ``seed``)."""
    g = torch.Generator()
    g.manual_seed(seed)
    return torch.randperm(n, generator=g).tolist()
