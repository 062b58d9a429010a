"""A float64 request computes in float64: from the command line, in a sweep and in Python,
against a NumPy float64 reference of the whole pipeline (weak GD, pseudo-labels, strong GD).
"""

import jax
import numpy as np
import pandas as pd
import pytest

from w2s_jax import DataConfig, TrainConfig, dtype_scope, run, split
from w2s_jax.cli.main import main
from w2s_jax.engines.run import run_key
from w2s_jax.model.config import ConfigError
from w2s_jax.model.samples import init_filters, sample_all
from w2s_jax.sweeping.driver import run_sweep

CONFIG = """
name = "x64"
[data]
d = 32
nu_norm = 3.0
[train]
n_st = 24
m = 3
n_wk = 40
n_test = 50
T = 20
T_wk = 15
eta = 0.5
eta_wk = 0.3
record_every = 4
"""
FIELDS = (
    dict(d=32, nu_norm=3.0),
    dict(n_st=24, m=3, n_wk=40, n_test=50, T=20, T_wk=15, eta=0.5, eta_wk=0.3, record_every=4),
)


def _softplus(z):
    return np.logaddexp(0.0, z)


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def numpy_reference():
    """The run of `FIELDS` at seed 0 redone in NumPy float64 from the same draws."""
    with dtype_scope("float64"):
        static, params = split(DataConfig(**FIELDS[0]), TrainConfig(**FIELDS[1], dtype="float64"))
        key = run_key(0, 0)
        weak, train, test = (jax.tree.map(np.asarray, s) for s in sample_all(static, params, key))
        W = np.asarray(init_filters(static, params, key))
    assert W.dtype == np.float64 and train.X.dtype == np.float64
    tr = FIELDS[1]
    S, y = weak.X.sum(axis=1), weak.y.astype(float)
    w = np.zeros(S.shape[1])
    for _ in range(tr["T_wk"]):
        w -= tr["eta_wk"] * np.mean((-y * _sigmoid(-y * (S @ w)))[:, None] * S, axis=0)
    pseudo = np.where(train.X.sum(axis=1) @ w >= 0, 1.0, -1.0)
    scale, sign = 1.0 / tr["m"], np.array([1.0, -1.0])

    def logits(W, X):
        pre = np.einsum("srd,npd->nsrp", W, X)
        return scale * (np.maximum(pre, 0).sum(axis=(2, 3)) @ sign), pre

    losses, accs = [], []
    for t in range(tr["T"] + 1):
        f, pre = logits(W, train.X)
        if t % tr["record_every"] == 0:
            losses.append(np.mean(_softplus(-pseudo * f)))
            accs.append(np.mean(np.where(logits(W, test.X)[0] >= 0, 1, -1) == test.y))
        if t == tr["T"]:
            break
        g = -pseudo * _sigmoid(-pseudo * f) / len(f)  # d loss / d f_i
        grad = np.einsum("n,nsrp,npd->srd", g, (pre > 0).astype(float), train.X)
        W = W - tr["eta"] * scale * sign[:, None, None] * grad
    return np.asarray(losses), np.asarray(accs)


def _cli_trajectory(tmp_path, dtype):
    config = tmp_path / "x64.toml"
    config.write_text(CONFIG)
    out = tmp_path / f"{dtype}.parquet"
    assert main(["run", str(config), "--set", f"dtype={dtype}", "--save", str(out)]) == 0
    return pd.read_parquet(out)


def test_float64_from_the_command_line_computes_in_float64(tmp_path, capsys):
    losses, accs = numpy_reference()
    single = _cli_trajectory(tmp_path, "float32")
    double = _cli_trajectory(tmp_path, "float64")
    capsys.readouterr()
    assert not np.array_equal(single.train_loss, double.train_loss)
    np.testing.assert_allclose(double.train_loss, losses, rtol=0, atol=1e-10)
    np.testing.assert_allclose(double.test_acc, accs, rtol=0, atol=1e-12)
    # float32 is float32: it misses the reference by far more than float64 rounding
    assert np.max(np.abs(single.train_loss - losses)) > 1e-9


def test_float64_sweep_computes_in_float64(tmp_path):
    losses, _ = numpy_reference()
    config = CONFIG + "\n[grid]\nn_st = [24]\n"
    path = tmp_path / "c.toml"
    path.write_text(config.replace("[train]", '[train]\ndtype = "float64"'))
    result = run_sweep(path, tmp_path / "out", quiet=True, devices=1)
    first = result.trajectories[result.trajectories.seed == 0]
    np.testing.assert_allclose(first.train_loss, losses, rtol=0, atol=1e-10)


def test_float32_runs_are_the_same_with_64_bit_mode_on(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG)
    plain = run_sweep(path, quiet=True, devices=1)
    with jax.enable_x64(True):
        inside = run_sweep(path, quiet=True, devices=1)
    pd.testing.assert_frame_equal(plain.trajectories, inside.trajectories)


def test_float64_in_python_without_64_bit_mode_is_refused():
    refusal = pytest.raises(ConfigError, match="dtype: 'float64' needs JAX's 64-bit mode")
    with jax.enable_x64(False), refusal:
        split(DataConfig(**FIELDS[0]), TrainConfig(**FIELDS[1], dtype="float64"))
    with dtype_scope("float64"):
        static, params = split(DataConfig(**FIELDS[0]), TrainConfig(**FIELDS[1], dtype="float64"))
    with jax.enable_x64(False), pytest.raises(ConfigError, match="64-bit"):
        jax.jit(run, static_argnums=0).lower(static, params, run_key(0, 0))


@pytest.mark.parametrize(
    "data, train",
    [
        ({}, dict(engine="direct")),  # the sets' draws, which the sampled Gram engine shares
        ({}, dict(engine="limit")),
        (dict(n_classes=3), {}),
        # the Wishart draws (normal blocks, chi-square) and the coin teacher's flips
        ({}, dict(teacher="oracle", hard_labels="coin", engine="gram", gram_noise="wishart")),
    ],
    ids=["direct", "limit", "classes", "oracle-wishart"],
)
@pytest.mark.slow
def test_float64_is_paired_with_float32(data, train):
    """`dtype` changes the arithmetic, not the draws: a float64 run sees the data, noise and
    initial filters of the float32 run of the same key, so the teacher's labels are the same
    and the student's record differs by rounding (before, 64-bit draws gave another sample)."""

    def one(dtype):
        with dtype_scope(dtype):
            static, params = split(
                DataConfig(**FIELDS[0], **data), TrainConfig(**FIELDS[1], **train, dtype=dtype)
            )
            return jax.jit(run, static_argnums=0)(static, params, run_key(0, 5))

    single, double = one("float32"), one("float64")
    assert double.train_loss.dtype == np.float64 and single.train_loss.dtype == np.float32
    for field in ("weak_test_acc", "pseudo_label_acc", "n_wrong_pseudo", "weak_test_acc_hard"):
        assert abs(float(getattr(single, field)) - float(getattr(double, field))) < 1e-6, field
    np.testing.assert_allclose(single.train_loss, double.train_loss, rtol=1e-4, atol=1e-6)
    # float32 is still float32: the two differ by more than float64 rounding
    gap = np.asarray(single.train_loss, np.float64) - np.asarray(double.train_loss)
    assert np.max(np.abs(gap)) > 1e-12
