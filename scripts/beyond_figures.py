"""The figures of docs/beyond.md: test accuracy against step, one panel per n_st, one line per
value of the study's axis (mean over seeds; the weak model's accuracy dotted).

    PYTHONPATH=. python scripts/beyond_figures.py RESULTS_DIR AXIS OUT.png
e.g. `... /tmp/beyond/batch_size batch_size docs/figures/beyond_batch_size.png` after
`w2s sweep sweeps/batch_size.toml --out /tmp/beyond/batch_size`.
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def main(directory: str, axis: str, out: str) -> None:
    t = pd.read_parquet(f"{directory}/trajectories.parquet")
    s = pd.read_parquet(f"{directory}/summary.parquet")
    n_values = sorted(t["n_st"].unique())
    fig, axes = plt.subplots(1, len(n_values), figsize=(2.6 * len(n_values), 2.4), sharey=True)
    for ax, n_st in zip(axes, n_values):
        for value, group in t[t["n_st"] == n_st].groupby(axis):
            curve = group.groupby("step")["test_acc"].mean()
            ax.plot(curve.index.to_numpy().clip(min=1), curve.values, label=f"{axis}={value:g}")
            weak = s[(s["n_st"] == n_st) & (s[axis] == value)]["weak_test_acc"].mean()
            ax.axhline(weak, color=ax.lines[-1].get_color(), ls=":", lw=0.8)
        ax.set(xscale="log", title=f"n_st = {n_st}", xlabel="step")
    axes[0].set_ylabel("test accuracy")
    axes[-1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(out, dpi=70)


if __name__ == "__main__":
    main(*sys.argv[1:4])
