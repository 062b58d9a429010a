"""The handwritten digits themselves: scikit-learn's bundled 1,797 8x8 images (read from disk,
never downloaded), the four class pools a run draws from, and how many samples they hold.

The config checks sample counts against these pools (`model.config.check_dataset`); the
sampler that arranges them as the three-patch data lives in `model.digits`.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = [
    "DIGIT_PIXELS",
    "parse_digit_classes",
    "pool_size",
    "pools",
    "slots",
    "max_n_st",
    "class_means",
]

DIGIT_PIXELS = 64  # an 8x8 image, flattened onto e1..e64


def parse_digit_classes(text: str) -> tuple[int, int, int, int]:
    """`"01/67"` -> `(hard_pos, hard_neg, easy_pos, easy_neg)`; four distinct digits.

    Raises ValueError with the reason (the config turns it into a ConfigError).
    """
    if not isinstance(text, str) or len(text) != 5 or text[2] != "/":
        raise ValueError(f"expected 'ab/cd' (hard pair / easy pair of digits), got {text!r}")
    chars = text[:2] + text[3:]
    if not chars.isdigit() or len(set(chars)) != 4:
        raise ValueError(f"expected four distinct digits 0-9 as 'ab/cd', got {text!r}")
    return tuple(int(c) for c in chars)


@functools.lru_cache(maxsize=1)
def _dataset() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 images scaled to unit norm `(N, 64)` and their digits `(N,)`."""
    from sklearn.datasets import load_digits  # shipped with scikit-learn, read from disk

    bunch = load_digits()
    images = bunch.data.astype(np.float64)
    images /= np.linalg.norm(images, axis=1, keepdims=True)
    return images, bunch.target.astype(np.int64)


def _class_indices(classes: tuple[int, ...]) -> list[np.ndarray]:
    _, target = _dataset()
    return [np.flatnonzero(target == c) for c in classes]


@functools.lru_cache(maxsize=16)
def pool_size(digit_classes: str) -> int:
    """Images per class pool: the smallest count among the four classes (larger classes are
    cut to it, in the data set's order)."""
    return min(len(i) for i in _class_indices(parse_digit_classes(digit_classes)))


def slots(n: int) -> int:
    """Images of each class that a set of `n` samples uses (labels alternate)."""
    return (n + 1) // 2


def max_n_st(digit_classes: str, n_wk: int, n_test: int) -> int:
    """The largest `n_st` that fits beside `n_wk` and `n_test` (can be <= 0: nothing fits)."""
    return 2 * (pool_size(digit_classes) - slots(n_wk) - slots(n_test))


@functools.lru_cache(maxsize=16)
def pools(digit_classes: str) -> tuple[np.ndarray, np.ndarray]:
    """`(4, P, 64)` unit-norm images of the pools (hard +, hard -, easy +, easy -) and their
    `(4, P)` indices in the data set."""
    images, _ = _dataset()
    P = pool_size(digit_classes)
    index = np.stack([i[:P] for i in _class_indices(parse_digit_classes(digit_classes))])
    return images[index], index


def class_means(digit_classes: str) -> np.ndarray:
    """Unit-norm mean images `(4, 64)` of (easy +, easy -, hard +, hard -): the directions along
    which a run records the student's signal components (the order of `signal_vectors`)."""
    images, _ = pools(digit_classes)
    means = images.mean(axis=1)[[2, 3, 0, 1]]
    return means / np.linalg.norm(means, axis=1, keepdims=True)
