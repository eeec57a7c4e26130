"""The base class of every annotation-format dataset, and the helpers formats share.

A dataset reads one or more public annotation files and turns each record into a
*conversation*, the one intermediate form of the data pipeline::

    dict(image='data/coco/train2017/000000299207.jpg',  # None for language-only data
         turns=[dict(instruction='What is ...?', input='', response='...'), ...],
         source='AOKVQADataset',                        # the dataset class name
         id=...)                                        # the record's id, or its index

Datasets never write template text (headers, BOS/EOS, separators); the transforms render
the template. :class:`ConversationDataset` does everything formats have in common:
reading JSON / JSONL files, joining paths, checking fields, collecting every bad record
into one :class:`AnnotationError`, skipping records with nothing to learn, and taking a
seeded subset. A format subclass only says how one record becomes a conversation
(:meth:`ConversationDataset.parse`) and, when the file is not a plain list of records,
where the records are (:meth:`ConversationDataset.records`).
"""
from __future__ import annotations

import json
import logging
import os.path as osp
import random
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from mmengine.dataset import BaseDataset
from mmengine.fileio import exists, get, join_path
from mmengine.logging import print_log
from mmengine.utils import is_abs

__all__ = [
    'AnnotationError', 'EmptyDatasetError', 'SampleLoadError', 'RecordError', 'RecordRef',
    'ConversationDataset', 'make_turn', 'get_field', 'get_list', 'get_text', 'pick',
]

MODALITIES = ('vl', 'lang')
_MISSING = object()
_TYPE_NAMES = {
    str: 'a string', int: 'an integer', float: 'a number', bool: 'a boolean',
    list: 'a list', dict: 'an object', type(None): 'null',
}


class AnnotationError(ValueError):
    """A malformed annotation file.

    Raised once per build; the message names each bad file and record (the index in a
    JSON list, the key in a JSON object, or the 1-based line of a JSONL file) and what
    was expected there, for up to ``max_errors`` records.
    """


class EmptyDatasetError(ValueError):
    """A dataset has no conversation left after reading its files; says which and why."""


class SampleLoadError(ValueError):
    """Too many samples of a dataset could not be loaded (broken images, nothing to learn)."""


class RecordError(Exception):
    """The problem of one record, raised by :meth:`ConversationDataset.parse`.

    The loader catches it and adds it, with the file and record, to the
    :class:`AnnotationError` that ends the build; it never reaches the user.

    Args:
        message (str): What was wrong and what was expected.
        location (str, optional): Where in the file, when the loader cannot tell
            (such as ``'line 3'`` of a JSON file that does not parse). Defaults to None.
    """

    def __init__(self, message: str, location: str | None = None):
        super().__init__(message)
        self.location = location


@dataclass(frozen=True)
class RecordRef:
    """Where a record comes from.

    Args:
        path (str): The annotation file.
        location (str): The record in the file, as error messages show it, such as
            ``'record 3'``, ``"record '1234'"`` or ``'line 4'``.
        key (Hashable): The record's index in a list (or in a JSONL file) or its key in
            a JSON object; the conversation ``id`` when the format has none.
    """

    path: str
    location: str
    key: Hashable


def _describe_types(types: type | tuple[type, ...]) -> str:
    types = types if isinstance(types, tuple) else (types, )
    return ' or '.join(_TYPE_NAMES.get(t, t.__name__) for t in types)


def _describe_value(value: Any) -> str:
    name = _TYPE_NAMES.get(type(value), type(value).__name__)
    text = repr(value)
    return name if len(text) > 40 else f'{name} {text}'


def _is_instance(value: Any, types: type | tuple[type, ...]) -> bool:
    types = types if isinstance(types, tuple) else (types, )
    if isinstance(value, bool) and bool not in types:
        return False  # JSON true/false is not a number here
    return isinstance(value, types)


def get_field(record: Any, key: str, types: type | tuple[type, ...] = str,
              default: Any = _MISSING) -> Any:
    """Return ``record[key]`` after checking that the record is an object and the type.

    Args:
        record: A parsed JSON record.
        key (str): The key to read.
        types (type | tuple[type, ...]): The accepted type(s) of the value; a boolean is
            never accepted as an integer. Defaults to ``str``.
        default: Returned when the key is absent; without it a missing key is an error.

    Returns:
        The value.

    Raises:
        RecordError: The record is not an object, the key is missing, or the value has
            another type.
    """
    if not isinstance(record, dict):
        raise RecordError(f'expected an object, got {_describe_value(record)}')
    if key not in record:
        if default is not _MISSING:
            return default
        raise RecordError(f'missing key {key!r} (expected {_describe_types(types)})')
    value = record[key]
    if not _is_instance(value, types):
        raise RecordError(
            f'key {key!r}: expected {_describe_types(types)}, got {_describe_value(value)}')
    return value


def get_text(record: Any, key: str, default: Any = _MISSING) -> str:
    """Return a string field with leading/trailing whitespace stripped (inner kept).

    Args:
        record: A parsed JSON record.
        key (str): The key to read.
        default: Returned (stripped) when the key is absent.

    Returns:
        str: The stripped text.
    """
    return get_field(record, key, str, default).strip()


def get_list(record: Any, key: str, item_types: type | tuple[type, ...] = str,
             min_len: int = 1) -> list:
    """Return a list field after checking its length and the type of every item.

    Args:
        record: A parsed JSON record.
        key (str): The key to read.
        item_types (type | tuple[type, ...]): The accepted type(s) of the items.
            Defaults to ``str``.
        min_len (int): The fewest items accepted. Defaults to 1.

    Returns:
        list: The value.
    """
    value = get_field(record, key, list)
    if len(value) < min_len:
        raise RecordError(f'key {key!r}: expected a list of at least {min_len} item(s), '
                          f'got {len(value)}')
    for i, item in enumerate(value):
        if not _is_instance(item, item_types):
            raise RecordError(f'key {key!r}: expected every item to be '
                              f'{_describe_types(item_types)}, got {_describe_value(item)} '
                              f'at position {i}')
    return value


def pick(items: Sequence, index: int, what: str) -> Any:
    """Return ``items[index]`` or a :class:`RecordError` that says which range was valid.

    Args:
        items (Sequence): The sequence indexed.
        index (int): The index, as read from the record.
        what (str): How the index is named in the message, such as
            ``"key 'correct_choice_idx'"``.
    """
    if not 0 <= index < len(items):
        raise RecordError(f'{what}: expected an index from 0 to {len(items) - 1}, got {index}')
    return items[index]


def make_turn(instruction: str, response: str, input: str = '') -> dict:
    """Build one turn; leading/trailing whitespace of each field is stripped.

    Args:
        instruction (str): The instruction or question.
        response (str): The answer the model learns.
        input (str): Extra context (language-only data). Defaults to ''.

    Returns:
        dict: ``dict(instruction=..., input=..., response=...)``.
    """
    return {'instruction': instruction.strip(), 'input': input.strip(),
            'response': response.strip()}


class _ErrorLog:
    """Collects bad records of one build and raises them as one AnnotationError."""

    def __init__(self, dataset: str, limit: int):
        self.dataset = dataset
        self.limit = limit
        self.lines: list[str] = []
        self.count = 0

    def add(self, path: str, location: str, message: str) -> None:
        self.count += 1
        if len(self.lines) < self.limit:
            self.lines.append(f'  {path}: {location}: {message}')

    def raise_if_any(self) -> None:
        if not self.count:
            return
        lines = list(self.lines)
        if self.count > len(lines):
            lines.append(f'  ... and {self.count - len(lines)} more')
        raise AnnotationError(f'{self.dataset}: {self.count} bad annotation record(s):\n'
                              + '\n'.join(lines))


def _decode(raw: bytes) -> str:
    """Decode UTF-8 (an optional BOM is dropped); bad bytes are a RecordError."""
    try:
        return raw.decode('utf-8-sig')
    except UnicodeDecodeError as e:
        line = raw.count(b'\n', 0, e.start) + 1
        raise RecordError(
            f'byte 0x{raw[e.start]:02x} at byte offset {e.start} is not valid UTF-8 '
            '(expected UTF-8 text)', location=f'line {line}') from None


def _loads(text: str) -> Any:
    """Parse one JSON document; a syntax error is a RecordError that names the line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise RecordError(f'invalid JSON at column {e.colno}: {e.msg} (expected a JSON '
                          'document)', location=f'line {e.lineno}') from None


class ConversationDataset(BaseDataset):
    """Base of the annotation-format datasets: read files, parse records, check, sample.

    Subclasses set :attr:`modality` and :attr:`file_format`, implement :meth:`parse`
    and, for files that are not a JSON list of records, :meth:`records`. ``METAINFO``
    carries ``modality`` too, so ``dataset.metainfo['modality']`` works on instances.

    Args:
        ann_file (str | Sequence[str]): Annotation file(s), joined with ``data_root``
            when relative; several files are read in order and concatenated.
        data_root (str): Root of ``ann_file`` and ``img_prefix``. Defaults to ''.
        img_prefix (str): Image folder, joined with ``data_root`` when relative; each
            format documents the image path it builds below it. Defaults to ''.
        pipeline (Sequence[dict | Callable]): Transforms. Defaults to ().
        sample (int, optional): Keep a random subset of this many conversations (after
            skipping empty ones), in file order. Defaults to None (keep all).
        sample_seed (int): Seed of the subset. Defaults to 0.
        seed (int): Seed of per-record random choices (an instruction drawn from a list,
            whether to show the choices...). Each record gets its own generator seeded
            by this seed, the class name, the file name and the record key, so a
            record's draw does not depend on the others. Defaults to 0.
        max_errors (int): Bad records listed in an :class:`AnnotationError`; the rest
            are counted. Defaults to 20.
        max_skipped (int | float): Samples whose pipeline returns None (unreadable
            image, nothing supervised) are replaced by a random other sample and counted;
            past this many in one process (a float: this fraction of the dataset), a
            :class:`SampleLoadError` names the dataset, its files and the last failures.
            ``max_refetch`` failures in a row (``BaseDataset``'s, default 1000) end the
            same way. Defaults to 0.5.
        lazy_init (bool): Defer reading the files to the first access. Defaults to
            False.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments (``indices``,
            ``serialize_data``, ``test_mode``, ``metainfo``...).
    """

    #: 'vl' (one image per conversation) or 'lang' (``image`` is None).
    modality: ClassVar[str] = 'vl'
    #: 'json' (one JSON document) or 'jsonl' (one JSON object per line).
    file_format: ClassVar[str] = 'json'
    METAINFO: ClassVar[dict] = {'modality': 'vl'}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.modality not in MODALITIES:
            raise TypeError(f'{cls.__name__}.modality must be one of {MODALITIES}, '
                            f'got {cls.modality!r}')
        if cls.file_format not in ('json', 'jsonl'):
            raise TypeError(f"{cls.__name__}.file_format must be 'json' or 'jsonl'")
        cls.METAINFO = dict(cls.METAINFO, modality=cls.modality)

    def __init__(self,
                 ann_file: str | Sequence[str],
                 data_root: str = '',
                 img_prefix: str = '',
                 pipeline: Sequence = (),
                 sample: int | None = None,
                 sample_seed: int = 0,
                 seed: int = 0,
                 max_errors: int = 20,
                 max_skipped: int | float = 0.5,
                 lazy_init: bool = False,
                 **kwargs):
        files = [ann_file] if isinstance(ann_file, str) else list(ann_file)
        if not files or not all(isinstance(f, str) and f for f in files):
            raise ValueError(f'{type(self).__name__}: ann_file must be a non-empty path or '
                             f'a list of them, got {ann_file!r}')
        if sample is not None and (type(sample) is not int or sample < 0):
            raise ValueError(f'{type(self).__name__}: sample must be a non-negative '
                             f'integer or None, got {sample!r}')
        self.ann_files = files
        self.sample = sample
        self.sample_seed = sample_seed
        self.seed = seed
        self.max_errors = max_errors
        self.max_skipped = max_skipped
        self.num_skipped = 0  # in this process
        self._last_failures: list[str] = []
        self.last_index: int | None = None  # the index __getitem__ last returned
        super().__init__(
            ann_file='', data_root=data_root, data_prefix={'img_path': img_prefix},
            pipeline=list(pipeline), lazy_init=lazy_init, **kwargs)

    # ------------------------------------------------------------------ format hooks
    def parse(self, record: Any, ref: RecordRef) -> dict | list[dict] | None:
        """Turn one record into a conversation (see :meth:`conversation`).

        Args:
            record: The record, as JSON parsed it.
            ref (RecordRef): Where it comes from; ``ref.key`` is the default id and
                :meth:`rng` gives its seeded generator.

        Returns:
            dict | list[dict] | None: One conversation, several, or None / [] to leave
            the record out on purpose (such as another split).

        Raises:
            RecordError: The record is malformed; the message says what was expected.
        """
        raise NotImplementedError

    def records(self, data: Any) -> Iterable[tuple[str, Hashable, Any]]:
        """Find the records in a parsed JSON file; by default a top-level list.

        Args:
            data: The parsed file.

        Yields:
            tuple[str, Hashable, Any]: ``(location, key, record)`` (see
            :class:`RecordRef`). A :class:`RecordError` raised here is reported at the
            file's top level.
        """
        return self.list_records(data)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def list_records(data: Any, what: str = 'the file') -> Iterator[tuple[str, int, Any]]:
        """Records of a JSON list, located by their 0-based index.

        Args:
            data: The list.
            what (str): How the list is named when it is not a list. Defaults to
                'the file'.
        """
        if not isinstance(data, list):
            raise RecordError(f'expected {what} to be a list of records, got '
                              f'{_describe_value(data)}')
        for index, record in enumerate(data):
            yield f'record {index}', index, record

    @staticmethod
    def dict_records(data: Any, what: str = 'the file') -> Iterator[tuple[str, str, Any]]:
        """Records of a JSON object keyed by id, located by their key.

        Args:
            data: The object.
            what (str): How the object is named when it is not one. Defaults to
                'the file'.
        """
        if not isinstance(data, dict):
            raise RecordError(f'expected {what} to be an object of records keyed by id, '
                              f'got {_describe_value(data)}')
        for key, record in data.items():
            yield f'record {key!r}', key, record

    def rng(self, ref: RecordRef) -> random.Random:
        """A generator for one record's random choices, the same on every build.

        Args:
            ref (RecordRef): The record.
        """
        tag = f'{self.seed}:{type(self).__name__}:{osp.basename(ref.path)}:{ref.key}'
        return random.Random(tag)

    def image_path(self, name: str) -> str:
        """Join an image name from the annotations with ``data_root``/``img_prefix``.

        Args:
            name (str): The image path relative to ``img_prefix``.
        """
        prefix = self.data_prefix.get('img_path', '')
        return join_path(prefix, name) if prefix else name

    def conversation(self, ref: RecordRef, turns: Sequence[dict], image: str | None = None,
                     id: Hashable | None = None) -> dict:
        """Build a conversation dict.

        Args:
            ref (RecordRef): The record it comes from.
            turns (Sequence[dict]): Turns built with :func:`make_turn`, in order.
            image (str, optional): The image path relative to ``img_prefix``; None for
                language-only data. Defaults to None.
            id (Hashable, optional): The record's id. Defaults to ``ref.key``.

        Returns:
            dict: ``dict(image, turns, source, id)``.
        """
        return {
            'image': None if image is None else self.image_path(image),
            'turns': list(turns),
            'source': type(self).__name__,
            'id': ref.key if id is None else id,
        }

    def single_turn(self, ref: RecordRef, instruction: str, response: str,
                    image: str | None = None, id: Hashable | None = None) -> dict:
        """Build a one-turn conversation (see :meth:`conversation`).

        Args:
            ref (RecordRef): The record it comes from.
            instruction (str): The question.
            response (str): The answer.
            image (str, optional): The image path relative to ``img_prefix``. Defaults
                to None.
            id (Hashable, optional): The record's id. Defaults to ``ref.key``.
        """
        return self.conversation(ref, [make_turn(instruction, response)], image=image, id=id)

    # ------------------------------------------------------------------ loading
    def _join_prefix(self):
        super()._join_prefix()
        self.ann_files = [
            join_path(self.data_root, f) if self.data_root and not is_abs(f) else f
            for f in self.ann_files
        ]
        self.ann_file = self.ann_files[0] if len(self.ann_files) == 1 else self.ann_files

    def load_data_list(self) -> list[dict]:
        """Read every annotation file and return the conversations.

        Raises:
            AnnotationError: Some record, line or file is malformed (all are listed).
        """
        errors = _ErrorLog(type(self).__name__, self.max_errors)
        conversations: list[dict] = []
        skipped: list[str] = []
        num_records = left_out = 0
        for path in self.ann_files:
            for ref, record in self._read(path, errors):
                num_records += 1
                try:
                    parsed = self.parse(record, ref)
                except RecordError as e:
                    errors.add(path, ref.location, str(e))
                    continue
                parsed = self._as_list(parsed)
                left_out += not parsed
                for conv in parsed:
                    if not self.has_targets(conv):
                        skipped.append(f'{path}: {ref.location}')
                    else:
                        conversations.append(conv)
        errors.raise_if_any()
        self._warn_skipped(skipped)
        conversations = self._subset(conversations)
        if not conversations:
            self._raise_empty(num_records, left_out, len(skipped))
        return conversations

    def _raise_empty(self, num_records: int, left_out: int, num_skipped: int) -> None:
        """Raise :class:`EmptyDatasetError` saying why nothing is left."""
        files = ', '.join(self.ann_files)
        if not num_records:
            why = 'the file(s) hold no records'
        elif self.sample == 0:
            why = 'sample=0 keeps none'
        else:
            why = (f'all {num_records} record(s) were left out: {left_out} by '
                   f'{type(self).__name__}.parse (another split or a filter of the format), '
                   f'{num_skipped} conversation(s) with an empty response')
        raise EmptyDatasetError(f'{type(self).__name__}: no conversations in {files}: {why}')

    def has_targets(self, conversation: dict) -> bool:
        """Whether a conversation has something to learn (every response non-empty);
        one without is skipped with a warning. Evaluation datasets override it.

        Args:
            conversation (dict): A parsed conversation.
        """
        return all(turn['response'] for turn in conversation['turns'])

    @staticmethod
    def _as_list(parsed: dict | list[dict] | None) -> list[dict]:
        if parsed is None:
            return []
        return [parsed] if isinstance(parsed, dict) else list(parsed)

    def _read(self, path: str, errors: _ErrorLog) -> Iterator[tuple[RecordRef, Any]]:
        """Yield ``(ref, record)`` from one file, adding file-level problems to errors."""
        if not exists(path):
            raise FileNotFoundError(
                f'{type(self).__name__}: annotation file {path} does not exist '
                f'(data_root={self.data_root!r})')
        raw = get(path)
        if self.file_format == 'jsonl':
            yield from self._read_jsonl(path, raw, errors)
            return
        try:
            data = _loads(_decode(raw))
        except RecordError as e:
            errors.add(path, e.location or 'top level', str(e))
            return
        try:
            for location, key, record in self.records(data):
                yield RecordRef(path, location, key), record
        except RecordError as e:
            errors.add(path, 'top level', str(e))

    @staticmethod
    def _read_jsonl(path: str, raw: bytes,
                    errors: _ErrorLog) -> Iterator[tuple[RecordRef, Any]]:
        """Yield the records of a JSONL file; each bad line is reported by number."""
        index = 0
        for number, line in enumerate(raw.split(b'\n'), start=1):
            if not line.strip():
                continue
            try:
                record = _loads(_decode(line))
            except RecordError as e:
                errors.add(path, f'line {number}', str(e))
            else:
                yield RecordRef(path, f'line {number}', index), record
            index += 1

    # ------------------------------------------------------------------ samples
    def __getitem__(self, idx: int) -> dict:
        """The sample ``idx`` after the pipeline; a failed one is replaced and counted.

        Unlike ``BaseDataset.__getitem__`` (which ends in "Cannot find valid image after
        1000!"), the failures are counted against ``max_skipped`` and the error names
        the dataset, its files and the samples that failed. :attr:`last_index` is the
        index of the sample actually returned.
        """
        if not self._fully_initialized:
            self.full_init()
        if self.test_mode:
            return super().__getitem__(idx)
        for _ in range(self.max_refetch + 1):
            data = self.prepare_data(idx)
            if data is not None:
                self.last_index = idx
                return data
            self._count_failure(idx)
            idx = self._rand_another()
        self._raise_load_error(f'{self.max_refetch + 1} samples in a row could not be loaded')

    def _count_failure(self, idx: int) -> None:
        self.num_skipped += 1
        info = self.get_data_info(idx)
        self._last_failures = (self._last_failures + [
            f"sample {info.get('id', idx)!r} (image {info.get('image')})"])[-3:]
        limit = self.max_skipped
        if isinstance(limit, float):
            limit = limit * len(self)
        if self.num_skipped > limit:
            self._raise_load_error(f'{self.num_skipped} samples skipped in this process, '
                                   f'more than max_skipped={self.max_skipped} of '
                                   f'{len(self)}')

    def _raise_load_error(self, what: str):
        raise SampleLoadError(
            f"{type(self).__name__} ({', '.join(self.ann_files)}): {what}; last failures: "
            f"{'; '.join(self._last_failures)}. Check data_root/img_prefix and the image "
            'files (the warnings above name each one), or raise max_skipped')

    def _warn_skipped(self, skipped: list[str]) -> None:
        if not skipped:
            return
        shown = ', '.join(skipped[:5]) + (', ...' if len(skipped) > 5 else '')
        print_log(f'{type(self).__name__}: skipped {len(skipped)} conversation(s) with an '
                  f'empty response (nothing to learn): {shown}',
                  logger='current', level=logging.WARNING)

    def _subset(self, conversations: list[dict]) -> list[dict]:
        """The ``sample`` subset, drawn with ``sample_seed``, kept in file order."""
        if self.sample is None:
            return conversations
        if self.sample >= len(conversations):
            if self.sample > len(conversations):
                print_log(f'{type(self).__name__}: sample={self.sample} but only '
                          f'{len(conversations)} conversations; keeping all',
                          logger='current', level=logging.WARNING)
            return conversations
        chosen = random.Random(self.sample_seed).sample(range(len(conversations)), self.sample)
        return [conversations[i] for i in sorted(chosen)]
