"""The imitation study's figure: gain over the teacher at the end and the student's agreement
with the teacher on hard-only test points, coin against rule, mean ± seed standard deviation
in every cell (docs/figures/imitation_plane.png).

    w2s sweep sweeps/imitation_coin.toml --out results/imitation_coin
    w2s sweep sweeps/imitation_rule.toml --out results/imitation_rule
    python scripts/imitation_figure.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PANELS = (
    ("gain_final", "gain over the teacher, end", "RdBu", (-0.25, 0.25)),
    ("imitation_final", "agreement with the teacher, hard-only", "viridis", (0.5, 1.0)),
)


def main(results: Path = ROOT / "results", out: Path = ROOT / "docs" / "figures") -> Path:
    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5), constrained_layout=True)
    for row, teacher in enumerate(("coin", "rule")):
        summary = pd.read_parquet(results / f"imitation_{teacher}" / "summary.parquet")
        cells = summary.groupby(["n_st_snr", "d_over_n"])
        for col, (name, title, cmap, limits) in enumerate(PANELS):
            mean, spread = (cells[name].agg(f).unstack() for f in ("mean", "std"))
            ax = axes[row, col]
            image = ax.imshow(mean.to_numpy(), origin="lower", cmap=cmap, vmin=limits[0],
                              vmax=limits[1], aspect="auto")  # fmt: skip
            for i in range(mean.shape[0]):
                for j in range(mean.shape[1]):
                    text = f"{mean.iat[i, j]:+.3f}\n±{spread.iat[i, j]:.3f}"
                    dark = cmap == "viridis" and mean.iat[i, j] < 0.8
                    ax.text(j, i, text, ha="center", va="center", fontsize=6.5,
                            color="white" if dark else "black")  # fmt: skip
            ax.set_xticks(range(mean.shape[1]), [f"{v:g}" for v in mean.columns])
            ax.set_yticks(range(mean.shape[0]), [f"{v:g}" for v in mean.index])
            ax.set_xlabel("d / n_st")
            ax.set_ylabel("n_st · snr")
            seeds = summary.seed.nunique()
            ax.set_title(f"{teacher} teacher: {title} (mean ± sd over {seeds} seeds)")
            fig.colorbar(image, ax=ax, shrink=0.8)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "imitation_plane.png"
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    print(main(*map(Path, sys.argv[1:])))
