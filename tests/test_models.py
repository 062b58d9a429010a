"""The two networks (docs/model.md#networks): shapes, Proposition 2.2 and the closed-form
gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import w2s_jax as w2s
from w2s_jax.model.data import BOTH, EASY, HARD
from w2s_jax.training.updates import logistic_loss


def test_single_sample_and_batch_agree():
    cfg = w2s.DataConfig(d=16)
    data = w2s.sample(jax.random.key(0), 5, cfg)
    W = jax.random.normal(jax.random.key(1), (2, 3, 16))
    strong, weak = w2s.ReLUCNN(W), w2s.LinearCNN(W[0, 0])
    assert strong(data.X).shape == (5,) and weak(data.X).shape == (5,)
    assert strong(data.X[2]).shape == () and weak(data.X[2]).shape == ()
    np.testing.assert_allclose(strong(data.X[2]), strong(data.X)[2], rtol=1e-6)
    np.testing.assert_allclose(weak(data.X[2]), weak(data.X)[2], rtol=1e-6)


def test_output_scale_switch_and_relu_derivative_at_zero():
    W = jax.random.normal(jax.random.key(2), (2, 4, 8))
    X = jax.random.normal(jax.random.key(3), (6, 3, 8))
    np.testing.assert_allclose(w2s.ReLUCNN(W, "1")(X), 4 * w2s.ReLUCNN(W)(X), rtol=1e-5)
    # ReLU'(0) = 0: a filter exactly orthogonal to every patch gets no gradient.
    Xz = X.at[..., 0].set(0.0)
    W0 = W.at[0, 0].set(jnp.eye(8)[0])
    grad = jax.grad(lambda W: w2s.ReLUCNN(W)(Xz).sum())(W0)
    assert np.all(np.asarray(grad[0, 0]) == 0.0)


@pytest.mark.parametrize("easy_layout", ["orthogonal", "antipodal"])
@pytest.mark.parametrize("hard_sign", ["shared", "antipodal"])
def test_proposition_2_2_relu_cnn_separates_every_category(easy_layout, hard_sign):
    """Filters along mu_s, +nu_s and -nu_s classify every category (Prop. 2.2).

    The filters carry a random component too, so the noise patch does reach them.
    """
    cfg = w2s.DataConfig(
        d=400, sigma_p=1.0, p_h=0.4, p_b=0.3, easy_layout=easy_layout, hard_sign=hard_sign
    )
    data = w2s.sample(jax.random.key(7), 3000, cfg)
    mu_pos, mu_neg, nu_pos, nu_neg = w2s.signal_vectors(cfg.d, 1.0, 1.0, easy_layout)
    W = jnp.stack([jnp.stack([mu_pos, nu_pos, -nu_pos]), jnp.stack([mu_neg, nu_neg, -nu_neg])])
    W = W + 0.02 * jax.random.normal(jax.random.key(8), W.shape)
    pred = jnp.where(w2s.ReLUCNN(W)(data.X) >= 0, 1, -1)
    for cat in (EASY, HARD, BOTH):
        rows = np.asarray(data.category) == cat
        assert rows.sum() > 100
        assert np.all(np.asarray(pred)[rows] == np.asarray(data.y)[rows]), cat


def _closed_form_gradient(W, X, yhat, output_scale):
    """dL/dw_{s,r} = (1/n) sum_i l'(yhat_i f_i) yhat_i sign_s scale sum_p ReLU'(<w,x_p>) x_p."""
    W, X, yhat = (np.asarray(a, dtype=np.float64) for a in (W, X, yhat))
    m = W.shape[1]
    scale = 1.0 / m if output_scale == "1/m" else 1.0
    pre = np.einsum("srd,npd->nsrp", W, X)
    f = scale * (np.maximum(pre[:, 0], 0).sum((1, 2)) - np.maximum(pre[:, 1], 0).sum((1, 2)))
    dloss = -1.0 / (1.0 + np.exp(yhat * f))  # l'(z) = -1 / (1 + e^z)
    grad = np.zeros_like(W)
    for s, sign in ((0, 1.0), (1, -1.0)):
        for r in range(m):
            active = (pre[:, s, r, :] > 0).astype(np.float64)  # (n, 3)
            grad[s, r] = np.einsum("n,np,npd->d", dloss * yhat * sign * scale, active, X)
    return grad / X.shape[0]


@pytest.mark.parametrize("output_scale", ["1/m", "1"])
def test_autodiff_gradient_equals_closed_form(output_scale):
    with jax.enable_x64(True):
        cfg = w2s.DataConfig(d=12)
        data = w2s.sample(jax.random.key(9), 7, cfg, dtype=jnp.float64)
        W = jax.random.normal(jax.random.key(10), (2, 5, 12), dtype=jnp.float64)
        yhat = jnp.where(jax.random.bernoulli(jax.random.key(11), shape=(7,)), 1.0, -1.0)

        def loss(W):
            return jnp.mean(logistic_loss(yhat * w2s.ReLUCNN(W, output_scale)(data.X)))

        np.testing.assert_allclose(
            jax.grad(loss)(W),
            _closed_form_gradient(W, data.X, yhat, output_scale),
            rtol=1e-10,
            atol=1e-12,
        )


def test_logistic_loss_is_stable():
    z = jnp.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    loss = logistic_loss(z)
    assert np.all(np.isfinite(np.asarray(loss)))
    np.testing.assert_allclose(loss, [1000.0, 30.0, np.log(2.0), np.exp(-30.0), 0.0], rtol=1e-6)


@pytest.mark.parametrize(
    "easy_layout, hard_sign", [("orthogonal", "shared"), ("antipodal", "antipodal")]
)
def test_split_patch_logits_equal_the_full_network(easy_layout, hard_sign):
    """The direct engine's cheaper form: x1, x2 in the signal span, x3 the noise."""
    cfg = w2s.DataConfig(d=40, easy_layout=easy_layout, hard_sign=hard_sign)
    data = w2s.sample(jax.random.key(12), 50, cfg)
    W = jax.random.normal(jax.random.key(13), (2, 6, 40))
    for scale in ("1/m", "1"):
        net = w2s.ReLUCNN(W, scale)
        np.testing.assert_allclose(
            net.split_patch_logits(data.X[:, :2, :4], data.noise), net(data.X), rtol=1e-5, atol=1e-5
        )
