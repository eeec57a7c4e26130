"""Vision-language and language-only datasets behind one index space."""
from __future__ import annotations

import bisect
import copy

import numpy as np
from torch.utils.data import Dataset

from mmgpt.registry import DATASETS

from .base import EmptyDatasetError, SampleLoadError

__all__ = ['JointDataset', 'MODALITIES']

#: The two modalities, in index order: vision-language first, then language-only.
MODALITIES = ('vl', 'lang')


def _build(cfg, pipeline, modality: str, position: int, data_root: str | None = None):
    if isinstance(cfg, dict):
        cfg = copy.deepcopy(cfg)
        if pipeline is not None and 'pipeline' not in cfg:
            cfg['pipeline'] = copy.deepcopy(pipeline)
        if data_root is not None and cfg.get('data_root') is None:
            cfg['data_root'] = data_root
        dataset = DATASETS.build(cfg)
    else:
        dataset = cfg
    declared = getattr(dataset, 'modality', modality)
    if declared != modality:
        raise ValueError(f'{type(dataset).__name__} has modality {declared!r} but is listed '
                         f'under {modality!r} of JointDataset')
    if len(dataset) == 0:
        files = getattr(dataset, 'ann_files', None) or getattr(dataset, 'ann_file', '?')
        raise EmptyDatasetError(f'{type(dataset).__name__} ({modality}[{position}] of '
                                f'JointDataset) has no samples: {files}')
    return dataset


def _check_modality(data, modality: str, dataset, index: int):
    found = data.get('modality', modality) if isinstance(data, dict) else modality
    if found != modality:
        raise ValueError(f'sample {index} of {type(dataset).__name__} (a {modality!r} dataset '
                         f'of JointDataset) came out as {found!r}: a vision-language '
                         'conversation needs an image, a language-only one none')
    return data


@DATASETS.register_module()
class JointDataset(Dataset):
    """Vision-language (``vl``) and language-only (``lang``) datasets, concatenated.

    Indices ``[0, num_vl)`` are the vision-language samples (the ``vl`` datasets in
    order), ``[num_vl, num_vl + num_lang)`` the language-only ones. Use it with
    :class:`~mmgpt.datasets.JointSampler`, which takes both modalities every iteration.

    A sample whose pipeline returns None (missing image, nothing supervised) is replaced
    by another sample of the same dataset: MMEngine's ``BaseDataset`` does this itself
    (``max_refetch``); for other datasets this wrapper draws another index of the same
    modality.

    Args:
        vl (list): Vision-language dataset configs (or datasets).
        lang (list): Language-only dataset configs (or datasets).
        pipeline (list, optional): Pipeline given to every dataset config that has none
            of its own. Defaults to None.
        data_root (str, optional): ``data_root`` given to every dataset config that has
            none of its own: one setting points a whole data mix at its folder (the
            demo's stages use it). Defaults to None.
        max_refetch (int): Retries for datasets that do not refetch themselves.
            Defaults to 1000.
    """

    def __init__(self, vl: list = (), lang: list = (), pipeline: list | None = None,
                 data_root: str | None = None, max_refetch: int = 1000) -> None:
        self.datasets = {m: [_build(c, pipeline, m, i, data_root) for i, c in enumerate(cfgs)]
                         for m, cfgs in zip(MODALITIES, (vl, lang))}
        self.last_index: int | None = None  # the global index __getitem__ last returned
        self.max_refetch = max_refetch
        self._flat = self.datasets['vl'] + self.datasets['lang']
        self._ends = np.cumsum([len(d) for d in self._flat]).tolist()
        self._sizes = {m: sum(len(d) for d in ds) for m, ds in self.datasets.items()}

    @property
    def sizes(self) -> dict:
        """Number of samples per modality: ``dict(vl=..., lang=...)``."""
        return dict(self._sizes)

    @property
    def metainfo(self) -> dict:
        """Class names and sizes of the wrapped datasets."""
        return dict(sizes=self.sizes, datasets={
            m: [type(d).__name__ for d in ds] for m, ds in self.datasets.items()})

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def locate(self, idx: int) -> tuple:
        """``(dataset, index inside it)`` of a global index."""
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(f'index {idx} out of range for JointDataset of {len(self)}')
        i = bisect.bisect_right(self._ends, idx)
        return self._flat[i], idx - (self._ends[i - 1] if i else 0)

    def modality_of(self, idx: int) -> str:
        """``'vl'`` or ``'lang'`` for a global index."""
        return 'vl' if idx < self._sizes['vl'] else 'lang'

    def __getitem__(self, idx: int) -> dict:
        modality = self.modality_of(idx)
        for _ in range(self.max_refetch + 1):
            dataset, local = self.locate(idx)
            data = dataset[local]
            if data is not None:
                # a dataset that replaced the sample itself says which one it returned
                inner = getattr(dataset, 'last_index', None)
                self.last_index = idx - local + (local if inner is None else inner)
                return _check_modality(data, modality, dataset, local)
            start = 0 if modality == 'vl' else self._sizes['vl']
            idx = start + np.random.randint(self._sizes[modality])
        names = ', '.join(type(d).__name__ for d in self.datasets[modality])
        raise SampleLoadError(f'JointDataset: no valid {modality} sample after '
                              f'{self.max_refetch} retries ({names}); check the image paths '
                              'and max_length')
