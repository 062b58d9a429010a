"""The K-class pipeline (docs/model.md#beyond, beyond the theorems) on the direct engine.

docs/model.md#training with softmax cross-entropy in place of the logistic loss and argmax in
place of the sign: the weak `ClassesLinearCNN` is trained on true labels from `w = 0`,
pseudo-labels are
its argmax, the strong `ClassesReLUCNN` (`m` filters per class) is trained on them, and the
same records come out, with `y` a class index. Mini-batches and a trained second layer work as
in the binary engines. The key streams are the binary pipeline's (`model.streams`: the three
sets, the filters, the batches), so `K = 2` here draws what the binary model draws. It is an
`Engine` like the binary ones; `engines.run` takes it for `n_classes > 2`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from w2s_jax.model import streams
from w2s_jax.model.config import Params, Static
from w2s_jax.model.data import Data
from w2s_jax.model.engine_traits import TRAITS
from w2s_jax.model.multiclass import (
    ClassesLinearCNN,
    ClassesReLUCNN,
    class_signals,
    predict_class,
    sample_classes_from_keys,
)
from w2s_jax.model.networks import HIGHEST, output_scale_factor
from w2s_jax.model.samples import draw_sets, sampler_args
from w2s_jax.model.streams import FILTERS_STREAM
from w2s_jax.training.batches import batch_key, descent_step
from w2s_jax.training.interface import Drawn, Engine, Labels, training_mask
from w2s_jax.training.records import (
    Records,
    noise_components,
    noise_norms,
    record,
    scan_records,
    signal_components,
)
from w2s_jax.training.teacher import train_linear
from w2s_jax.training.updates import make_strong_optimizer, mean_loss

__all__ = [
    "ENGINE",
    "sample",
    "teacher",
    "train",
    "cross_entropy",
    "sample_all_classes",
    "train_weak_classes",
]


def cross_entropy(logits, labels):
    """Softmax cross-entropy `logsumexp(z) - z_y` per sample (stable)."""
    own = jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
    return jax.nn.logsumexp(logits, axis=-1) - own


def sample_all_classes(static: Static, params: Params, key: PRNGKeyArray):
    """The weak, (padded) strong and test sets, from the run key's streams 0, 1, 2."""
    sizes = (static.n_wk, static.n_max, static.n_test)
    kw = sampler_args(static, params)
    return draw_sets(
        key, sizes, lambda keys: sample_classes_from_keys(keys, static.d, static.n_classes, **kw)
    )


def train_weak_classes(static: Static, params: Params, data: Data) -> ClassesLinearCNN:
    """GD on the mean softmax cross-entropy from `w = 0` (docs/model.md#training, weak
    training, K classes)."""
    patch_sum = data.X.sum(axis=1)

    def loss(w):
        logits = jnp.einsum("nd,kd->nk", patch_sum, w, precision=HIGHEST)
        return jnp.mean(cross_entropy(logits, data.y))

    w0 = jnp.zeros((static.n_classes, static.d), patch_sum.dtype)
    w = train_linear(static, params, loss, w0)
    return ClassesLinearCNN(w)


def sample(static: Static, params: Params, key: PRNGKeyArray) -> Drawn:
    """The three K-class sets in `R^d` and the initial filters `W(0)` `(K, m, d)`."""
    weak, train_set, test = sample_all_classes(static, params, key)
    W0 = params.sigma_0 * streams.normal(
        jax.random.fold_in(key, FILTERS_STREAM), (static.n_classes, static.m, static.d),
        jnp.dtype(static.dtype),
    )  # fmt: skip
    return Drawn(weak, train_set, test, start=W0)


def teacher(static: Static, params: Params, drawn: Drawn) -> Labels:
    """The weak model trained on `drawn.weak`, and its argmax labels of the other sets."""
    weak = train_weak_classes(static, params, drawn.weak)
    return Labels(pseudo=predict_class(weak(drawn.train.X)), test=predict_class(weak(drawn.test.X)))


def train(
    static: Static, params: Params, key: PRNGKeyArray, *, drawn: Drawn, labels: Labels
) -> Records:
    """The student `ClassesReLUCNN` trained on the pseudo-labels by softmax cross-entropy.

    `a_mean_pos` / `a_min_pos` describe class 0's output weights, `_neg` the other classes'.
    """
    dtype = jnp.dtype(static.dtype)
    K, k = static.n_classes, 2 * static.n_classes
    W0, train, test, pseudo = drawn.start, drawn.train, drawn.test, labels.pseudo
    mask = training_mask(static, params)
    a0 = jnp.full((K, static.m), output_scale_factor(static.output_scale, static.m), dtype)
    trained = static.second_layer == "trained"
    n_st = params.n_st.astype(dtype)
    signals = class_signals(K, k, params.mu_norm, params.nu_norm, dtype)
    train_signal, test_signal = train.X[:, :2, :k], test.X[:, :2, :k]
    optimizer = make_strong_optimizer(static, params)
    noise_sq = noise_norms(train.noise)
    batches = batch_key(key) if static.minibatch else None

    def network(weights) -> ClassesReLUCNN:
        W, a = weights if trained else (weights, None)
        return ClassesReLUCNN(W, static.output_scale, a)

    def loss(weights, in_batch=None):
        logits = network(weights).split_patch_logits(train_signal, train.noise)
        return mean_loss(cross_entropy(logits, pseudo), mask, n_st, in_batch), logits

    gd_step = descent_step(loss, optimizer, static, params, batches, mask)

    def measure(weights):
        W, a = weights if trained else (weights, a0)
        train_loss, train_logits = loss(weights)
        test_logits = network(weights).split_patch_logits(test_signal, test.noise)
        finite = jnp.isfinite(train_loss) & jnp.all(jnp.isfinite(W)) & jnp.all(jnp.isfinite(a))
        delta = W - W0
        return record(
            train_logits=train_logits,
            test_logits=test_logits,
            train_loss=train_loss,
            finite=finite,
            train=train,
            test=test,
            pseudo_labels=pseudo,
            mask=mask,
            gamma=signal_components(delta[..., :k], signals),
            rho=noise_components(delta, train.noise, noise_sq),
            a=a,
            teacher_test=labels.test,
            classes=True,
        )

    return scan_records(static, (W0, a0) if trained else W0, optimizer, gd_step, measure)


#: The K-class engine (direct, in `R^d`).
ENGINE = Engine(sample=sample, teacher=teacher, train=train, traits=TRAITS["multiclass"])
