"""The figures of docs/images.md: MNIST samples with the theory's structure and the student's
filters seen as images.

    PYTHONPATH=. python scripts/mnist_figures.py [--out docs/figures] [--quick]

`mnist_samples.png`: a few samples of each category (easy-only, hard-only, bridge), their two
signal patches as 28x28 images and 784 coordinates of their noise patch.

`mnist_filters.png`: the student's filters projected back onto the 784 pixel coordinates,
`w_{s,r}(t) - w_{s,r}(0)` on `e1..e784`, at the best step and at the end of training. A run
records only the filters' components along the four class means (`gamma`), not the filters,
so this script trains one cell itself: the library's own data, teacher and pseudo-labels
(`model.samples`, `training.teacher`), then plain full-batch gradient descent on `ReLUCNN`,
the direct engine's update, keeping the filters at every record step. It checks its test accuracy
against `w2s.run` on the same cell (direct engine) before drawing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import w2s_jax as w2s  # noqa: E402
from w2s_jax.model.data import BOTH, EASY, HARD  # noqa: E402
from w2s_jax.model.digit_images import MNIST_PIXELS  # noqa: E402
from w2s_jax.model.samples import init_filters, sample_all  # noqa: E402
from w2s_jax.training.teacher import train_weak  # noqa: E402
from w2s_jax.training.updates import predict  # noqa: E402

SIDE = 28
#: The cell whose filters are drawn: MNIST at d = 2000 with recurring images, the noise patch
#: of norm about 1 as in the table (d = 30000, snr = 1e-3), trained on the direct engine.
D = 2000
SIGMA_P = 1.0 / np.sqrt(D - MNIST_PIXELS)
DATA = dict(
    dataset="mnist",
    d=D,
    sigma_p=float(SIGMA_P),
    nu_norm=1.0,
    mu_norm=1.0,
    p_h=0.3,
    p_b=0.4,
    images_recur=True,
)
TRAIN = dict(
    n_st=500,
    m=10,
    n_wk=1000,
    n_test=1000,
    T_wk=200,
    eta_wk=0.1,
    eta=2.0,
    T=300,
    record_schedule="log",
    record_points=20,
)


def _image(v):
    return np.asarray(v[:MNIST_PIXELS]).reshape(SIDE, SIDE)


def samples_figure(path: Path, per_category: int = 2):
    cfg = w2s.DataConfig(**(DATA | dict(d=2 * MNIST_PIXELS)))
    static, params = w2s.split(cfg, w2s.TrainConfig(n_st=60, n_wk=2, n_test=2))
    _, data, _ = sample_all(static, params, jax.random.key(0))
    X, y, cat, eps = (np.asarray(a) for a in data)
    rows = []
    for c in (EASY, HARD, BOTH):
        rows += list(np.flatnonzero(cat == c)[:per_category])
    names = {EASY: "easy-only", HARD: "hard-only", BOTH: "bridge"}
    fig, axes = plt.subplots(len(rows), 3, figsize=(5.4, 1.9 * len(rows)))
    for row, i in enumerate(rows):
        patches = (X[i, 0], X[i, 1], X[i, 2, MNIST_PIXELS:])
        titles = ("x1", "x2", "noise xi (784 of its coords)")
        for col, (v, title) in enumerate(zip(patches, titles)):
            ax = axes[row, col]
            img = _image(v)
            lim = np.abs(img).max() or 1.0
            ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(f"{names[int(cat[i])]}\ny={y[i]:+d} eps={eps[i]:+d}", fontsize=8)
            if row == 0:
                ax.set_title(title, fontsize=8)
    fig.suptitle(
        "MNIST samples (hard pair 0/1, easy pair 6/7)\nred +, blue -, each panel its own scale",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def train_cell(key):
    """The cell's data and teacher from the library, then GD on the filters, recorded."""
    cfg, train = w2s.DataConfig(**DATA), w2s.TrainConfig(**TRAIN)
    static, params = w2s.split(cfg, train)
    weak_set, data, test = sample_all(static, params, key)
    weak = train_weak(static, params, weak_set)
    pseudo = predict(weak(data.X)).astype(jnp.float32)
    weak_acc = float(jnp.mean(predict(weak(test.X)) == test.y))
    W0 = init_filters(static, params, key)
    eta = params.eta

    def loss(W):
        return jnp.mean(jax.nn.softplus(-pseudo * w2s.ReLUCNN(W)(data.X)))

    def test_acc(W):
        return jnp.mean(predict(w2s.ReLUCNN(W)(test.X)) == test.y)

    def step(W, _):
        W = W - eta * jax.grad(loss)(W)
        return W, (W[..., :MNIST_PIXELS], test_acc(W))

    _, (pixels, acc) = jax.jit(lambda W: jax.lax.scan(step, W, length=train.T))(W0)
    pixels = jnp.concatenate([W0[None, ..., :MNIST_PIXELS], pixels])
    acc = jnp.concatenate([test_acc(W0)[None], acc])
    steps = np.asarray(static.record_steps)
    return (
        static,
        params,
        np.asarray(pixels) - np.asarray(W0[..., :MNIST_PIXELS]),
        np.asarray(acc),
        steps,
        weak_acc,
    )


def filters_figure(path: Path, seed: int = 0):
    key = jax.random.key(seed)
    static, params, delta, acc, steps, weak_acc = train_cell(key)
    reference = w2s.run(static, params, key)  # the library's direct engine on the same cell
    recorded = np.asarray(reference.test_acc)
    mine = acc[steps]
    gap = float(np.max(np.abs(mine - recorded)))
    print(f"test accuracy at the record steps: this script vs w2s.run, largest gap {gap:.4f}")
    best = int(steps[int(np.argmax(recorded))])
    T = int(steps[-1])
    print(f"weak {weak_acc:.4f}; best step {best} ({acc[best]:.4f}); step {T} ({acc[T]:.4f})")
    m = delta.shape[2]
    show = min(m, 4)
    fig, axes = plt.subplots(4, show + 1, figsize=(1.6 * (show + 1), 6.8))
    for half, (t, label) in enumerate(((best, "best step"), (T, "end"))):
        for s, branch in enumerate(("F+1", "F-1")):
            norms = np.linalg.norm(delta[T, s], axis=-1)
            order = np.argsort(-norms)[:show]  # the filters that moved most by the end
            for j, r in enumerate(order):
                ax = axes[2 * half + s, j]
                img = _image(delta[t, s, r])
                lim = np.abs(img).max() or 1.0
                ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim)
                ax.set_xticks([])
                ax.set_yticks([])
                if j == 0:
                    ax.set_ylabel(f"{branch}\n{label} t={t}", fontsize=8)
            mean = _image(delta[t, s].mean(axis=0))
            lim = np.abs(mean).max() or 1.0
            ax = axes[2 * half + s, show]
            ax.imshow(mean, cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_xticks([])
            ax.set_yticks([])
            if half == 0 and s == 0:
                ax.set_title("branch mean", fontsize=8)
                for j in range(show):
                    axes[0, j].set_title(f"moved most #{j + 1}", fontsize=8)
    fig.suptitle(
        f"Student filters on the pixels, w(t) - w(0): MNIST, n_st = {TRAIN['n_st']}, d = {D}, "
        f"m = {TRAIN['m']}\nteacher {weak_acc:.3f}, best step {best} test {acc[best]:.3f}, "
        f"end t = {T} test {acc[T]:.3f}",
        fontsize=8,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/figures")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    samples_figure(out / "mnist_samples.png")
    print(f"mnist_samples.png ({time.perf_counter() - start:.1f} s)")
    filters_figure(out / "mnist_filters.png")
    print(f"mnist_filters.png ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
