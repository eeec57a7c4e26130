"""What every mmgpt metric shares: reading a prediction record, and reporting ``n``."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ['PredictionError', 'get_prediction', 'get_references', 'sample_id']


class PredictionError(ValueError):
    """A prediction record a metric cannot score (a missing field, a wrong type)."""


def sample_id(sample: Mapping) -> Any:
    """The id of a prediction record (``id``), shown in errors.

    Args:
        sample (Mapping): A data sample as a dict (``BaseDataElement.to_dict()``).
    """
    return sample.get('id', '?')


def get_prediction(sample: Mapping, key: str = 'pred_text') -> str:
    """The generated text of a prediction record.

    Args:
        sample (Mapping): A data sample as a dict.
        key (str): The field holding the text. Defaults to ``'pred_text'``.

    Raises:
        PredictionError: The field is missing or not a string.
    """
    value = sample.get(key)
    if not isinstance(value, str):
        raise PredictionError(f'prediction {sample_id(sample)!r}: expected a string in '
                              f'{key!r}, got {type(value).__name__}; the model\'s predict '
                              'mode writes it')
    return value


def get_references(sample: Mapping, key: str = 'references', min_len: int = 1) -> list:
    """The reference answers / captions of a prediction record.

    Args:
        sample (Mapping): A data sample as a dict.
        key (str): The field holding the list. Defaults to ``'references'``.
        min_len (int): The fewest references accepted. Defaults to 1.

    Raises:
        PredictionError: The field is missing, not a list of strings, or too short.
    """
    value = sample.get(key)
    if (not isinstance(value, Sequence) or isinstance(value, str)
            or not all(isinstance(v, str) for v in value) or len(value) < min_len):
        raise PredictionError(
            f'prediction {sample_id(sample)!r}: expected a list of at least {min_len} '
            f'reference string(s) in {key!r}, got {value!r:.80}; the evaluation dataset '
            'sets it (a test split without answers cannot be scored)')
    return list(value)
