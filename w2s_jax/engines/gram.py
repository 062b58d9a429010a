"""The Gram (kernel-space) engine: strong-model training at a per-step cost independent of `d`.

Gradient descent only ever adds training patches to a filter, and every patch is either a
signal patch on e1..e4 or a noise patch `xi_i`. So, exactly,

    w_{s,r}(t) = w_{s,r}(0) + sum_{k<4} A_{s,r,k} e_k + sum_i C_{s,r,i} xi_i,

and every inner product the dynamics and the evaluation need is a combination of
`<xi_i, xi_j>` (training noise), `<xi_i, xi'_j>` (training x test noise), `<w_{s,r}(0), xi>`
and the signal coordinates (`e1..ek`, `k = static.signal_dims`; the text says e1..e4, the
synthetic binary model's span). The signal-noise decomposition of the proofs comes out exactly:
`gamma_{s,r,u} = <A_{s,r}, u> / |u|^2` and `rho_{s,r,i} = (C G)_{s,r,i} / G_ii`.

An optax rule that is linear in the gradient (`sgd`, `momentum`) commutes with this change of
coordinates, so it runs on the coefficients `(A, C)` unchanged; Adam rescales each ambient
coordinate and is refused (`EngineTraits.optimizers`, checked by the config and by
`run_engine`). Beyond the theorems (docs/model.md#beyond) the decomposition still holds: a
mini-batch step adds only the batch's patches, and a trained second layer `a_{s,r}` rescales
each filter's gradient without leaving the span of the patches; `a` itself is trained as it
is, beside `(A, C)`.

The noise Gram matrix comes either from the sampled noise (this engine: the direct engine's
`sample` and `teacher`, so the same draws) or from its law (`engines.wishart`), or from its
`d → ∞` limit (`engines.limit`); `train_in_gram` trains the student for all three.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Bool, Float, PRNGKeyArray

from w2s_jax.engines import direct
from w2s_jax.model.config import Params, Static
from w2s_jax.model.engine_traits import TRAITS
from w2s_jax.model.networks import HIGHEST, head, relu
from w2s_jax.model.samples import signals
from w2s_jax.training.batches import batch_key, batch_mask
from w2s_jax.training.interface import Drawn, Engine, Labels, training_mask
from w2s_jax.training.records import Records, record, scan_records, signal_components
from w2s_jax.training.updates import (
    initial_second_layer,
    logistic_loss,
    make_strong_optimizer,
    mean_loss,
)

__all__ = [
    "ENGINE",
    "NoiseGram",
    "gram_from_noise",
    "cross",
    "train",
    "train_in_gram",
]


class NoiseGram(NamedTuple):
    """Every inner product of the strong model's dynamics and evaluation.

    Orthogonal noise (the `d → ∞` limit, `engines.limit`) is stored as it is: `train` as its
    diagonal `(n_max,)` and `train_test` as `None`, so a step costs `O(m·n)`, not `O(m·n²)`.

    Attributes:
        train: `(n_max, n_max)`, `<xi_i, xi_j>` over the training noise (or its diagonal).
        train_test: `(n_max, n_test)`, `<xi_i, xi'_j>` (or `None`: all zero).
        filters_train: `(2, m, n_max)`, `<w_{s,r}(0), xi_i>`.
        filters_test: `(2, m, n_test)`, `<w_{s,r}(0), xi'_j>`.
        filters_signal: `(2, m, k)`, `w_{s,r}(0)` on `e1..ek`.
    """

    train: Float[Array, "n n"] | Float[Array, " n"]
    train_test: Float[Array, "n n_test"] | None
    filters_train: Float[Array, "2 m n"]
    filters_test: Float[Array, "2 m n_test"]
    filters_signal: Float[Array, "2 m k"]


def cross(a, b):
    """`a bᵀ` over the leading columns both store (the rest are zero by construction)."""
    width = min(a.shape[-1], b.shape[-1])
    return jnp.matmul(a[:, :width], b[:, :width].T, precision=HIGHEST)


def gram_from_noise(
    train_noise: Float[Array, "n d"],
    test_noise: Float[Array, "n_test d"],
    W0: Float[Array, "2 m d"],
    signal_dims: int,
) -> NoiseGram:
    """The Gram blocks of sampled noise (`~2·n·(n + n_test + 2m)·d` flops, once per run).

    `signal_dims` (`k`): the filters' coordinates on the signal span `e1..ek` are kept apart.
    """
    k = signal_dims
    two, m, d = W0.shape
    filters = W0.reshape(two * m, d)
    return NoiseGram(
        train=cross(train_noise, train_noise),
        train_test=cross(train_noise, test_noise),
        filters_train=cross(filters, train_noise).reshape(two, m, -1),
        filters_test=cross(filters, test_noise).reshape(two, m, -1),
        filters_signal=W0[..., :k],
    )


def patch_columns(X: Float[Array, "n p d"], k: int) -> Float[Array, "k 2*n"]:
    """The signal patches `X[:, :2, :k]` as columns, patch-major: `(k, 2·n)`."""
    return X[:, :2, :k].transpose(2, 1, 0).reshape(k, -1)


def contract_samples(a: Float[Array, "r s"], b: Float[Array, "c s"]) -> Float[Array, "r c"]:
    """`a bᵀ` contracting the sample axis both store last (no transpose is formed)."""
    return jax.lax.dot_general(a, b, (((1,), (1,)), ((), ())), precision=HIGHEST)


def train(
    static: Static, params: Params, key: PRNGKeyArray, *, drawn: Drawn, labels: Labels
) -> Records:
    """The student on the Gram blocks of the sampled noise and `W(0) = drawn.start`: the
    direct engine's records, computed in kernel space."""
    gram = gram_from_noise(drawn.train.noise, drawn.test.noise, drawn.start, static.signal_dims)
    return train_in_gram(static, params, key, drawn=drawn, labels=labels, gram=gram)


class KernelProblem(NamedTuple):
    """What every step and record point of `train_in_gram` reads and none changes
    (`kernel_problem`). The steps take it bound (`functools.partial`), never as a traced argument
    of a JAX transformation, so `m` and `orthogonal` stay Python values.

    A filter's preactivations are rows, `(2m, n)` on the noise patches and `(2m, 2, n)` on the
    signal patches; the filters `(s, r)` are flattened s-major as everywhere.

    Attributes:
        train_patches: `(k, 2·n_max)`, the training signal patches as columns (`patch_columns`).
        test_patches: `(k, 2·n_test)`, the test signal patches as columns.
        filters_signal: `(2m, k)`, `w_{s,r}(0)` on `e1..ek`.
        filters_train: `(2m, n_max)`, `<w_{s,r}(0), xi_i>`.
        filters_test: `(2m, n_test)`, `<w_{s,r}(0), xi'_j>`.
        noise_gram: `NoiseGram.train`, `<xi_i, xi_j>` (or its diagonal).
        cross_gram: `NoiseGram.train_test`, `<xi_i, xi'_j>` (or `None`: all zero).
        noise_sq: `(n_max,)`, `|xi_i|²`, kept above the dtype's smallest normal (padded rows).
        signal_span: `(4, k)`, the four signals (`model.samples.signals`).
        pseudo: `(n_max,)`, the pseudo-labels in the run's dtype.
        mask: `(n_max,)`, the real training points (`training_mask`).
        n_st: the number of real training points, in the run's dtype (the loss's divisor).
        m: the filters of each class.
        orthogonal: whether the training noise is orthogonal (`noise_gram` is its diagonal);
            it sets the layout of `C` (`initial_weights`).
    """

    train_patches: Float[Array, "k 2*n"]
    test_patches: Float[Array, "k 2*n_test"]
    filters_signal: Float[Array, "2*m k"]
    filters_train: Float[Array, "2*m n"]
    filters_test: Float[Array, "2*m n_test"]
    noise_gram: Float[Array, "n n"] | Float[Array, " n"]
    cross_gram: Float[Array, "n n_test"] | None
    noise_sq: Float[Array, " n"]
    signal_span: Float[Array, "4 k"]
    pseudo: Float[Array, " n"]
    mask: Bool[Array, " n"]
    n_st: Float[Array, ""]
    m: int
    orthogonal: bool

    @property
    def width(self) -> int:
        """`2m`, the number of filters `(s, r)`."""
        return 2 * self.m

    @property
    def n_max(self) -> int:
        """The padded training set's size."""
        return self.pseudo.shape[0]


def kernel_problem(
    static: Static, params: Params, drawn: Drawn, labels: Labels, gram: NoiseGram
) -> KernelProblem:
    """The `KernelProblem` of a run: the signal patches of `drawn` (`X[:, :2, :k]` only), the
    pseudo-labels and mask, and the Gram blocks `gram`, in the layouts the steps read."""
    mask = training_mask(static, params)
    dtype = gram.train.dtype
    k = static.signal_dims
    m = gram.filters_signal.shape[1]
    width = 2 * m
    n_st = params.n_st.astype(dtype)
    pseudo = labels.pseudo.astype(dtype)
    # Signal patches as columns (patch-major, then sample): one matrix product gives every
    # filter's preactivation on them, a filter's two patches are two rows to add, and the
    # gradient contracts the sample axis of both operands (no transpose).
    train_patches = patch_columns(drawn.train.X, k)
    test_patches = patch_columns(drawn.test.X, k)
    filters_signal = gram.filters_signal.reshape(width, k)
    filters_train = gram.filters_train.reshape(width, -1)
    filters_test = gram.filters_test.reshape(width, -1)
    signal_span = signals(static, params, dtype)
    orthogonal = gram.train.ndim == 1
    diagonal = gram.train if orthogonal else jnp.diagonal(gram.train)
    return KernelProblem(
        train_patches=train_patches,
        test_patches=test_patches,
        filters_signal=filters_signal,
        filters_train=filters_train,
        filters_test=filters_test,
        noise_gram=gram.train,
        cross_gram=gram.train_test,
        noise_sq=jnp.maximum(diagonal, jnp.finfo(dtype).tiny),
        signal_span=signal_span,
        pseudo=pseudo,
        mask=mask,
        n_st=n_st,
        m=m,
        orthogonal=orthogonal,
    )


def initial_weights(static: Static, problem: KernelProblem, a0: Float[Array, "2 m"]):
    """The student's weights at step 0: the coefficients `(A, C) = 0`, and beside them `a0`
    when the second layer is trained (`((A, C), a)`).

    `C` is stored `(n, 2m)`, the layout in which XLA's CPU matrix product runs `Cᵀ G` at about
    1.5x the rate of a `(2m, n)` operand (`w2s bench`'s profile). With orthogonal training noise
    (a diagonal `G`) there is no product, and `C` is stored `(2m, n)`, the layout of the
    preactivations, so a step transposes nothing.
    """
    dtype, n, width = problem.n_st.dtype, problem.n_max, problem.width
    C0 = jnp.zeros((width, n) if problem.orthogonal else (n, width), dtype)
    coefficients = (jnp.zeros((width, static.signal_dims), dtype), C0)
    return (coefficients, a0) if static.second_layer == "trained" else coefficients


def unpack_weights(static: Static, weights):
    """`((A, C), a)`, with `a = None` for a fixed second layer."""
    return weights if static.second_layer == "trained" else (weights, None)


def noise_product(problem: KernelProblem, C, noise_gram):
    """`<w_{s,r} - w_{s,r}(0), xi>` for every noise vector of `noise_gram` (`problem.noise_gram`
    or `problem.cross_gram`): `(2m, n')`, or `None` where `noise_gram` is."""
    if noise_gram is None:  # noise orthogonal to the training noise: no product
        return None
    rows = C if problem.orthogonal else C.T  # (2m, n)
    if noise_gram.ndim == 1:  # orthogonal training noise: G is its diagonal
        return rows * noise_gram[None, :]
    return jnp.matmul(rows, noise_gram, precision=HIGHEST)


def signal_preactivations(problem: KernelProblem, A, patches):
    """`<w_{s,r}, x_{i,p}>` on the signal patches (`problem.train_patches` or `test_patches`):
    `(2m, 2, n)`."""
    pre = jnp.matmul(problem.filters_signal + A, patches, precision=HIGHEST)
    return pre.reshape(problem.width, 2, -1)


def logits(static: Static, problem: KernelProblem, on_signal, on_noise, a=None):
    """`F_{+1} - F_{-1}` from the preactivations on the signal patches `(2m, 2, n)` and on the
    noise patches `(2m, n)`: `(n,)`."""
    hidden = relu(on_signal).sum(axis=1) + relu(on_noise)  # (2m, n)
    F = head(hidden.reshape(2, problem.m, -1).transpose(2, 0, 1), a, static.output_scale)
    return F[:, 0] - F[:, 1]


def loss(static: Static, problem: KernelProblem, on_signal, on_noise, a=None, in_batch=None):
    """The mean logistic loss on the pseudo-labels (over the mini-batch `in_batch` when given),
    and the logits: `(loss, (n,))`."""
    train_logits = logits(static, problem, on_signal, on_noise, a)
    losses = logistic_loss(problem.pseudo * train_logits)
    return mean_loss(losses, problem.mask, problem.n_st, in_batch), train_logits


def gradient_step(
    static: Static,
    params: Params,
    problem: KernelProblem,
    optimizer: optax.GradientTransformation,
    batches: PRNGKeyArray | None,
    t,
    state,
):
    """GD step `t` on `state = (weights, opt_state, Cᵀ G)` (`scan_records`'s `gd_step`).

    The product `Cᵀ G` of the current weights is carried from one step to the next, so a step
    and a record point read `G` once.
    """
    weights, opt_state, product = state
    (A, C), a = unpack_weights(static, weights)
    in_batch = batch_mask(static, params, batches, problem.mask, t) if static.minibatch else None
    on_signal = signal_preactivations(problem, A, problem.train_patches)
    # The same relu as ReLUCNN, differentiated the same way, so ReLU'(0) agrees with it.
    loss_of = partial(loss, static, problem)
    (d_signal, d_noise, da), _ = jax.grad(loss_of, argnums=(0, 1, 2), has_aux=True)(
        on_signal, problem.filters_train + product, a, in_batch
    )
    grads = (
        contract_samples(d_signal.reshape(problem.width, -1), problem.train_patches),
        d_noise if problem.orthogonal else d_noise.T,
    )
    if a is not None:  # a trained second layer
        grads = (grads, da)
    updates, opt_state = optimizer.update(grads, opt_state, weights)
    weights = optax.apply_updates(weights, updates)
    (_, C), _ = unpack_weights(static, weights)
    return weights, opt_state, noise_product(problem, C, problem.noise_gram)


def record_point(
    static: Static,
    problem: KernelProblem,
    drawn: Drawn,
    labels: Labels,
    a0: Float[Array, "2 m"],
    weights,
    product,
) -> Records:
    """The `Records` of one record point (`scan_records`'s `measure`), from the weights and the
    carried `Cᵀ G`."""
    (A, C), a = unpack_weights(static, weights)
    on_train = signal_preactivations(problem, A, problem.train_patches)
    train_loss, train_logits = loss(static, problem, on_train, problem.filters_train + product, a)
    test_product = noise_product(problem, C, problem.cross_gram)
    on_test = problem.filters_test if test_product is None else problem.filters_test + test_product
    on_test_signal = signal_preactivations(problem, A, problem.test_patches)
    test_logits = logits(static, problem, on_test_signal, on_test, a)
    gamma = signal_components(A.reshape(2, problem.m, static.signal_dims), problem.signal_span)
    rho = (product / problem.noise_sq[None, :]).reshape(2, problem.m, -1)
    finite = jnp.isfinite(train_loss) & jnp.all(jnp.isfinite(A)) & jnp.all(jnp.isfinite(C))
    if a is not None:
        finite = finite & jnp.all(jnp.isfinite(a))
    return record(
        train_logits=train_logits,
        test_logits=test_logits,
        train_loss=train_loss,
        finite=finite,
        train=drawn.train,
        test=drawn.test,
        pseudo_labels=labels.pseudo,
        mask=problem.mask,
        gamma=gamma,
        rho=rho,
        a=a0 if a is None else a,
        teacher_test=labels.test,
    )


def train_in_gram(
    static: Static,
    params: Params,
    key: PRNGKeyArray,
    *,
    drawn: Drawn,
    labels: Labels,
    gram: NoiseGram,
) -> Records:
    """The student trained in the coefficients `(A, C)`: `~4·m·n_max²` flops a step
    (`O(m·n_max)` with a diagonal `gram.train`).

    Only `X[:, :2, :k]` of `drawn.train` and `drawn.test` (the signal patches on `e1..ek`,
    `k = static.signal_dims`), the labels and categories are read from the data; the noise
    enters through `gram`. `key` is the run key; only mini-batch SGD reads it.
    """
    problem = kernel_problem(static, params, drawn, labels, gram)
    optimizer = make_strong_optimizer(static, params)
    a0 = initial_second_layer(static, gram.train.dtype)
    batches = batch_key(key) if static.minibatch else None
    step = partial(gradient_step, static, params, problem, optimizer, batches)
    measure = partial(record_point, static, problem, drawn, labels, a0)
    weights0 = initial_weights(static, problem, a0)
    product0 = jnp.zeros((problem.width, problem.n_max), gram.train.dtype)  # Cᵀ G at C = 0
    return scan_records(static, weights0, optimizer, step, measure, carry0=product0)


#: The Gram engine on sampled noise: the direct engine's draws and teacher.
ENGINE = Engine(sample=direct.sample, teacher=direct.teacher, train=train, traits=TRAITS["gram"])
