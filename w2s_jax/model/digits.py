"""Real images with the theory's structure: scikit-learn's bundled handwritten digits
(1,797 8x8 images, no download) arranged as the three-patch data of SPEC §1.

`digit_classes = "01/67"` names the hard pair (label +1, label -1) and the easy pair. A sample
of label `y` carries the image of a digit of the hard class of `y` (`h`) and/or of the easy
class of `y` (`e`), each scaled to unit norm, on the first 64 coordinates of `R^d`:

- easy-only: `(mu_norm·e, mu_norm·e, xi)`
- hard-only: `(eps·nu_norm·h, eps·nu_norm·h, xi)` (`hard_sign = "antipodal"`: `(h, -h)`)
- bridge:    `(mu_norm·e, eps·nu_norm·h, xi)`

`eps` is a Rademacher polarity independent of everything else and `xi ~ N(0, sigma_p² (I-P))`
lives on the coordinates `65..d` as in the synthetic model. On hard-only data `(eps, xi)` and
`(-eps, -xi)` have the same law given the image and `y`, so every linear `f_wk` is at chance
there (the analogue of Proposition 2.1), while filters along `±h`-directions separate it.

Without replacement: a run permutes each class's images with its key and cuts the permuted
list into disjoint slots for the weak set, the test set and the student set (in that order, so
the student set's images do not depend on its padded size `n_max`). Labels alternate
(`+1` at even indices), and sample `i` of a set takes slot `i // 2` of that set in the pools of
its label's two classes; its category, polarity and noise come from `fold_in(stream, i)` as in
the synthetic sampler. So a set of `n` samples uses `ceil(n/2)` images of each of the four
classes, and a run fits if `ceil(n_wk/2) + ceil(n_st/2) + ceil(n_test/2)` is at most the
smallest of the four class counts (`model.digit_images`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from w2s_jax.model.data import BOTH, EASY, HARD, Data, _draw, sample_keys
from w2s_jax.model.digit_images import DIGIT_PIXELS, pools, slots

#: Stream of the run key that permutes the class pools (0-3: weak, strong, test, filters).
POOL_STREAM = 4

__all__ = [
    "image_indices",
    "sample_digit_sets",
]


def _slot_table(key: PRNGKeyArray, sizes: tuple[int, int, int], P: int):
    """Per set: labels `(n,)`, and pool positions `(n,)` after the run's permutation
    `(4, P)`. Set order in the pools: weak, test, student (the padded one last)."""
    perms = jax.vmap(lambda k: jax.random.permutation(k, P))(
        jax.random.split(jax.random.fold_in(key, POOL_STREAM), 4)
    )
    n_wk, n_max, n_test = sizes
    offsets = (0, slots(n_wk) + slots(n_test), slots(n_wk))
    table = []
    for n, offset in zip(sizes, offsets):
        i = jnp.arange(n)
        # Padded student rows past the pools wrap around; they are masked out of training.
        table.append((jnp.where(i % 2 == 0, 1, -1), (offset + i // 2) % P))
    return perms, table


def image_indices(key: PRNGKeyArray, sizes: tuple[int, int, int], digit_classes: str):
    """For the weak, student and test sets of a run: the data-set indices `(n, 2)` of the
    (hard, easy) image that each sample is built from (used or not by its category)."""
    _, index = pools(digit_classes)
    perms, table = _slot_table(key, sizes, index.shape[1])
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
) -> tuple[Data, Data, Data]:
    """The weak, student (padded to `n_max`) and test sets of a run on the digits.

    `sizes = (n_wk, n_max, n_test)`; set `s` draws the category, polarity and noise of sample
    `i` from `fold_in(fold_in(key, s), i)` and its images from the run's pool permutation.
    """
    images_np, _ = pools(digit_classes)
    images = jnp.asarray(images_np, dtype=dtype)
    perms, table = _slot_table(key, sizes, images_np.shape[1])
    sets = []
    for s, (n, (y, position)) in enumerate(zip(sizes, table)):
        draws = jax.vmap(lambda k: _draw(k, d, dtype))(sample_keys(jax.random.fold_in(key, s), n))
        eps = jnp.where(draws.sign_bit, 1, -1)
        u = draws.category_u
        category = jnp.where(u < p_e, EASY, jnp.where(u < p_e + p_h, HARD, BOTH))
        hard_row, easy_row = jnp.where(y == 1, 0, 1), jnp.where(y == 1, 2, 3)
        pad = ((0, 0), (0, d - DIGIT_PIXELS))
        nu_y = nu_norm * jnp.pad(images[hard_row, perms[hard_row, position]], pad)
        mu_y = mu_norm * jnp.pad(images[easy_row, perms[easy_row, position]], pad)
        eps_nu_y = eps[:, None].astype(dtype) * nu_y
        hard = (eps_nu_y, eps_nu_y) if hard_sign == "shared" else (nu_y, -nu_y)
        cat = category[:, None]
        x1 = jnp.where(cat == HARD, hard[0], mu_y)
        x2 = jnp.where(cat == EASY, mu_y, jnp.where(cat == HARD, hard[1], eps_nu_y))
        xi = sigma_p * draws.z.at[:, :DIGIT_PIXELS].set(0.0)
        sets.append(Data(X=jnp.stack([x1, x2, xi], axis=1), y=y, category=category, eps=eps))
    return tuple(sets)
