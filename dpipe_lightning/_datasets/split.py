"""A seeded train/validation split of identifiers."""

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._checks import check_int, check_number

__all__ = ['train_val_split']


def _validation_counts(labels: np.ndarray, n_val: int) -> dict[Any, int]:
    """Per-class validation sizes proportional to the class sizes, summing to ``n_val``."""
    classes, sizes = np.unique(labels, return_counts=True)
    quotas = sizes * n_val / len(labels)
    counts = np.floor(quotas).astype(int)
    # stable sort: ties go to the classes that come first
    for index in np.argsort(-(quotas - counts), kind='stable')[: n_val - counts.sum()]:
        counts[index] += 1
    return dict(zip(classes.tolist(), counts.tolist()))


def train_val_split(
    ids: Sequence,
    labels: Sequence | None = None,
    val_fraction: float = 0.2,
    random_state: int | None = 0,
) -> tuple[list, list]:
    """
    Split ``ids`` at random into training and validation ids, stratified by ``labels`` if they are given.

    Parameters
    ----------
    ids
        the identifiers to split, e.g. ``dataset.ids``.
    labels
        one label per id; if given, every label keeps (up to rounding) its share in both parts.
    val_fraction
        the share of ids that goes to validation, in (0, 1); the validation size is
        ``round(len(ids) * val_fraction)``.
    random_state
        the seed; the same seed gives the same split. ``None`` draws a fresh one.

    Returns
    -------
    train_ids, val_ids
        disjoint lists that together hold all ``ids``, each in the order of ``ids``.

    Examples
    --------
    >>> train_val_split(range(10), val_fraction=0.3, random_state=1)
    ([0, 1, 2, 3, 5, 6, 9], [4, 7, 8])
    """
    ids = list(ids)
    check_number('val_fraction', val_fraction, minimum=0, maximum=1, strict=True)
    if random_state is not None:
        check_int('random_state', random_state)
    n_val = int(np.floor(len(ids) * val_fraction + 0.5))
    if not 0 < n_val < len(ids):
        raise ValueError(
            f'val_fraction={val_fraction} of {len(ids)} ids gives {n_val} validation and '
            f'{len(ids) - n_val} training ids; both parts must be non-empty'
        )

    rng = np.random.default_rng(random_state)
    if labels is None:
        is_val = np.zeros(len(ids), bool)
        is_val[rng.permutation(len(ids))[:n_val]] = True
    else:
        labels = np.asarray(labels)
        if labels.shape != (len(ids),):
            raise ValueError(f'expected one label per id ({len(ids)}), got labels of shape {labels.shape}')
        is_val = np.zeros(len(ids), bool)
        for label, count in _validation_counts(labels, n_val).items():
            (positions,) = np.nonzero(labels == label)
            is_val[rng.permutation(positions)[:count]] = True

    train_ids = [i for i, val in zip(ids, is_val) if not val]
    val_ids = [i for i, val in zip(ids, is_val) if val]
    return train_ids, val_ids
