"""What a run records: the `Trajectory`, the metrics of one record point, and the nested scan
(outer over record points, inner over steps) that every engine records with.

Only scalars and the small `gamma` array are stacked over record points (STYLE: stacking
per-step state is what runs accelerators out of memory).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Bool, Float, Int

from w2s_jax.model.config import Static
from w2s_jax.model.data import BOTH, EASY, HARD, Data
from w2s_jax.model.multiclass import predict_class
from w2s_jax.model.networks import HIGHEST
from w2s_jax.training.updates import predict

__all__ = [
    "Trajectory",
    "Records",
    "RECORD_FIELDS",
    "masked_mean",
    "imitation",
    "record",
    "scan_records",
    "segment_lengths",
    "signal_components",
    "noise_norms",
    "noise_components",
]


class Records(NamedTuple):
    """What an engine's `train` returns: the metrics of `record`, with a leading axis over
    `static.record_steps` once `scan_records` has stacked them. The fields are those of
    `Trajectory` that change during training, in its order."""

    test_acc: Float[Array, " R"]
    test_acc_easy: Float[Array, " R"]
    test_acc_hard: Float[Array, " R"]
    test_acc_both: Float[Array, " R"]
    train_acc_pseudo: Float[Array, " R"]
    train_acc_true: Float[Array, " R"]
    train_loss: Float[Array, " R"]
    label_correction: Float[Array, " R"]
    gamma_mu: Float[Array, " R"]
    gamma_nu_pos: Float[Array, " R"]
    gamma_nu_neg: Float[Array, " R"]
    rho_correct: Float[Array, " R"]
    rho_wrong: Float[Array, " R"]
    a_mean_pos: Float[Array, " R"]
    a_mean_neg: Float[Array, " R"]
    a_min_pos: Float[Array, " R"]
    a_min_neg: Float[Array, " R"]
    finite: Bool[Array, " R"]
    gamma: Float[Array, "R s m u"]
    imitation: Float[Array, " R"]


_Float = Float[Array, ""]

#: What one run returns: the teacher's numbers, then the records of `Records` (per record
#: step), then the teacher's accuracies by category.
Trajectory = NamedTuple(
    "Trajectory",
    [
        ("weak_test_acc", _Float),
        ("weak_test_acc_hard", _Float),
        ("pseudo_label_acc", _Float),
        ("n_wrong_pseudo", Int[Array, ""]),
        *Records.__annotations__.items(),
        ("weak_test_acc_easy", _Float),
        ("weak_test_acc_both", _Float),
        ("teacher_rule_share", _Float),
    ],
)
Trajectory.__doc__ = """What one run returns. Per-record fields have a leading axis over
`static.record_steps`.

`gamma[k, s, r, u] = <w_{s,r}(t_k) - w_{s,r}(0), u> / |u|^2` for the signals
`u = (mu_{+1}, mu_{-1}, nu_{+1}, nu_{-1})` (K classes: `s` over the K branches, `u` over the 2K
signals). `rho_correct` / `rho_wrong`: the mean over correctly / wrongly pseudo-labelled
training points `i` of `max_r <w_{yhat_i,r}(t) - w_{yhat_i,r}(0), xi_i> / |xi_i|^2` (noise
memorization by the branch that the pseudo-label rewards). `a_mean_pos` / `a_min_pos`
(`_neg`): the mean and the minimum over `r` of the sign-aligned output weights `a_{s,r}` of
the `+1` (`-1`) branch; constant at the output scale unless the second layer is trained
(docs/model.md#beyond). `imitation`: the student's agreement with the teacher's labels on
hard-only test points. `weak_test_acc_*` and `teacher_rule_share` describe the teacher
(`training.teacher`).
"""
Trajectory.__module__ = __name__


#: Per-record scalar columns of a Trajectory (the trajectories.parquet metrics).
RECORD_FIELDS = (
    "test_acc",
    "test_acc_easy",
    "test_acc_hard",
    "test_acc_both",
    "train_acc_pseudo",
    "train_acc_true",
    "train_loss",
    "label_correction",
    "gamma_mu",
    "gamma_nu_pos",
    "gamma_nu_neg",
    "rho_correct",
    "rho_wrong",
    "a_mean_pos",
    "a_mean_neg",
    "a_min_pos",
    "a_min_neg",
    "imitation",
)


def masked_mean(values, mask):
    """Mean of `values` where `mask`; NaN where the mask is empty (e.g. no hard-only data)."""
    mask = mask.astype(values.dtype)
    return jnp.sum(values * mask) / jnp.sum(mask)


def segment_lengths(static: Static) -> Int[Array, " R"]:
    """GD steps before each record point since the previous one (0 before step 0's record)."""
    steps = jnp.asarray(static.record_steps, dtype=jnp.int32)
    return jnp.diff(steps, prepend=0)


def scan_records(
    static: Static,
    weights0,
    optimizer: optax.GradientTransformation,
    gd_step,
    measure,
    carry0=None,
) -> Records:
    """The nested scan every engine records with: an outer scan over record points whose
    body runs `gd_step` for the steps since the last record (none before step 0's) and
    measures.

    `gd_step(t, (weights, opt_state))` is GD step `t` (0-based, counted from the start of
    training: mini-batches are drawn by it). `measure` appears once in the program:
    measuring step 0 outside the scan would trace and compile it twice. `measure(weights)`
    returns the `Records` of one point (`record`). Returns them with a leading axis over
    `static.record_steps`.

    With `carry0`, the state is `(weights, opt_state, carry)` (`carry0` at the start), and
    `measure(weights, carry)` reads it: an engine carries there what a step computes from the
    new weights for the next step and a record point can reuse (the Gram engine's `Cᵀ G`).
    """

    def segment(state, length_and_start):
        length, start = length_and_start
        state = jax.lax.fori_loop(0, length, lambda i, s: gd_step(start + i, s), state)
        return state, measure(*state[:1], *state[2:])

    lengths = segment_lengths(static)
    starts = jnp.asarray(static.record_steps, dtype=jnp.int32) - lengths
    state = (weights0, optimizer.init(weights0))
    if carry0 is not None:
        state = state + (carry0,)
    _, records = jax.lax.scan(segment, state, (lengths, starts))
    return records


def signal_components(delta_on_signal_span, signals):
    """`gamma[s, r, u] = <delta_{s,r}, u> / |u|^2` for the four signals (`(4, k)` each)."""
    return (
        jnp.einsum("srk,uk->sru", delta_on_signal_span, signals, precision=HIGHEST)
        / jnp.sum(signals * signals, axis=1)[None, None]
    )


def noise_norms(noise: Float[Array, "n d"]) -> Float[Array, " n"]:
    """`|xi_i|²` of the training noise, kept above the dtype's smallest normal (padded rows)."""
    return jnp.maximum(jnp.sum(noise * noise, axis=1), jnp.finfo(noise.dtype).tiny)


def noise_components(
    delta: Float[Array, "s m d"], noise: Float[Array, "n d"], norms: Float[Array, " n"]
) -> Float[Array, "s m n"]:
    """`rho[s, r, i] = <delta_{s,r}, xi_i> / |xi_i|²` in ambient coordinates (`norms` from
    `noise_norms`, computed once per run)."""
    return jnp.einsum("srd,nd->srn", delta, noise, precision=HIGHEST) / norms[None, None]


def record(
    *,
    train_logits,
    test_logits,
    train_loss,
    finite,
    train: Data,
    test: Data,
    pseudo_labels,
    mask,
    gamma,
    rho,
    a,
    teacher_test=None,
    classes: bool = False,
) -> Records:
    """The metrics of one record point, common to every engine, binary or K classes.

    Args:
        train_logits: `(n_max,)` student logits on the training set (`(n_max, K)` with
            `classes`).
        test_logits: `(n_test,)` student logits on the test set (`(n_test, K)`).
        gamma: `(K, m, 2K)` signal components of `W - W(0)`, on the easy signals of the
            classes, then their hard signals (binary: `K = 2`, `(mu_{+1}, mu_{-1}, nu_{+1},
            nu_{-1})`).
        rho: `(K, m, n_max)` noise components `<w_{s,r} - w_{s,r}(0), xi_i> / |xi_i|^2`.
        a: `(K, m)` output weights, each class's branch aligned with its own logit.
        teacher_test: `(n_test,)` the teacher's labels of the test set (for `imitation`).
        classes: labels are class indices `0..K-1` and a prediction is the argmax; otherwise
            labels are `±1` (class 0 is `+1`) and a prediction is the sign of the logit.
    """
    if classes:
        predicted, class_of = predict_class, lambda y: y
    else:
        predicted, class_of = predict, lambda y: jnp.where(y == 1, 0, 1)
    test_pred = predicted(test_logits)
    dtype = train_loss.dtype
    test_correct = (test_pred == test.y).astype(dtype)
    train_pred = predicted(train_logits)
    wrong = mask & (pseudo_labels != train.y)
    right = mask & (pseudo_labels == train.y)
    # rho of the filters of the class that the pseudo-label rewards.
    best_rho = rho.max(axis=1)  # (K, n)
    rho_own = jnp.take_along_axis(best_rho, class_of(pseudo_labels)[None], axis=0)[0]
    K = gamma.shape[0]
    own = jnp.arange(K)
    own_mu, own_nu = gamma[own, :, own], gamma[own, :, K + own]  # (K, m)
    return Records(
        test_acc=jnp.mean(test_correct),
        test_acc_easy=masked_mean(test_correct, test.category == EASY),
        test_acc_hard=masked_mean(test_correct, test.category == HARD),
        test_acc_both=masked_mean(test_correct, test.category == BOTH),
        train_acc_pseudo=masked_mean((train_pred == pseudo_labels).astype(dtype), mask),
        train_acc_true=masked_mean((train_pred == train.y).astype(dtype), mask),
        train_loss=train_loss,
        label_correction=masked_mean((train_pred == train.y).astype(dtype), wrong),
        gamma_mu=own_mu.max(axis=1).mean(),
        gamma_nu_pos=own_nu.max(axis=1).mean(),
        gamma_nu_neg=(-own_nu).max(axis=1).mean(),
        rho_correct=masked_mean(rho_own, right),
        rho_wrong=masked_mean(rho_own, wrong),
        a_mean_pos=a[0].mean(),
        a_mean_neg=a[1:].mean(),
        a_min_pos=a[0].min(),
        a_min_neg=a[1:].min(),
        finite=finite,
        gamma=gamma,
        imitation=imitation(test_pred, teacher_test, test, dtype),
    )


def imitation(student_test_pred, teacher_test, test: Data, dtype):
    """Agreement of the student with the teacher on hard-only test points (NaN without one)."""
    if teacher_test is None:
        return jnp.asarray(jnp.nan, dtype)
    agree = (student_test_pred == teacher_test).astype(dtype)
    return masked_mean(agree, test.category == HARD)
