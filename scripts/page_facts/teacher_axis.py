"""docs/teacher_axis.md: the plane along the rule share `q` between the coin and the rule
oracle (`plane_mix`), the `q` at which each cell stops gaining and starts imitating, and the
trained teacher's planes predicted from the mixture at their measured rule share."""

from __future__ import annotations

import numpy as np
import pandas as pd
from figures import FIGURES, have, num, waiting

from w2s_jax.analysis import mixture, plots
from w2s_jax.analysis.plane import snap
from w2s_jax.analysis.report import markdown_table
from w2s_jax.sweeping.results import load_results

#: The mixture plane of each n_st, and the trained teacher's plane it predicts.
MIX = {300: "plane_mix", 1000: "plane_mix_1000", 3000: "plane_mix_3000"}
TRAINED = {300: "plane_trained", 1000: "plane_trained_1000", 3000: "plane_trained_3000"}
#: The levels that say where a cell stops gaining and where it imitates.
GAIN_LEVEL, IMITATION_LEVEL = 0.0, 0.9
#: The verdict's R² thresholds (final gain, all cells): explained, partly, not.
EXPLAINED, PARTLY = 0.8, 0.4
FIELDS = (
    "mix_n_st",
    "mix_shares",
    "mix_gain_cells",
    "mix_imitation_cells",
    "mix_agreement",
    "mix_residuals",
    "mix_verdict",
    "mix_crossings_figure",
    "mix_prediction_figure",
)


def facts(draw: bool) -> tuple[dict[str, str], list[str]]:
    sizes = [n for n in MIX if have(MIX[n]) and not _ends(n)]
    missing = [MIX[n] for n in MIX if not have(MIX[n])] + sum((_ends(n) for n in MIX), [])
    if not sizes:
        thresholds = {"explained": f"{EXPLAINED:g}", "partly": f"{PARTLY:g}"}
        return {f: waiting(MIX[300]) for f in FIELDS} | thresholds, missing
    mixes = {n: _axis(n) for n in sizes}
    out = {"mix_n_st": ", ".join(str(n) for n in sizes)}
    out["mix_shares"] = _shares(mixes)
    gain = {
        n: mixture.q_crossings(m, "gain_final", GAIN_LEVEL, rising=False) for n, m in mixes.items()
    }
    imitation = {
        n: mixture.q_crossings(m, "imitation_final", IMITATION_LEVEL, rising=True)
        for n, m in mixes.items()
    }
    out["mix_gain_cells"] = _crossing_table(gain)
    out["mix_imitation_cells"] = _crossing_table(imitation)
    predictions = {
        n: mixture.predict_trained(mixes[n], load_results(TRAINED[n]).summary)
        for n in sizes
        if have(TRAINED[n])
    }
    missing += [TRAINED[n] for n in sizes if not have(TRAINED[n])]
    out["mix_agreement"] = _agreement_table(predictions)
    out["mix_residuals"] = _residual_table(predictions)
    out["mix_verdict"] = _verdict(predictions)
    out |= {"explained": f"{EXPLAINED:g}", "partly": f"{PARTLY:g}"}
    out["mix_crossings_figure"] = "\n\n".join(
        f"![q crossings, n_st = {n}](figures/teacher_axis_crossings{_suffix(n)}.png)" for n in sizes
    )
    out["mix_prediction_figure"] = "\n\n".join(
        f"![prediction, n_st = {n}](figures/teacher_axis_prediction{_suffix(n)}.png)"
        for n in predictions
    )
    if draw:
        _draw_crossings(gain, imitation)
        _draw_prediction(predictions)
    return out, missing


def _axis(n: int) -> pd.DataFrame:
    """The mixture plane at `n` with its ends: the coin and rule planes are `q = 0` and
    `q = 1` run for run (the mixed oracle's draws are shared; tests/test_teacher.py)."""
    suffix = "" if n == 300 else f"_{n}"
    ends = [
        load_results(f"plane_{end}{suffix}").summary.assign(rule_share=q)
        for q, end in ((0.0, "coin"), (1.0, "rule"))
    ]
    return snap(pd.concat([ends[0], load_results(MIX[n]).summary, ends[1]], ignore_index=True))


def _suffix(n: int) -> str:
    """The figure files' suffix of size `n` (none at 300, the first plane)."""
    return "" if n == 300 else f"_{n}"


def _ends(n: int) -> list[str]:
    suffix = "" if n == 300 else f"_{n}"
    return [name for name in (f"plane_coin{suffix}", f"plane_rule{suffix}") if not have(name)]


def _shares(mixes: dict[int, pd.DataFrame]) -> str:
    rows = []
    for n, mix in mixes.items():
        for q, group in mix.groupby("rule_share"):
            cells = group.groupby("cell").teacher_rule_share.mean()
            rows.append(
                {
                    "n_st": n,
                    "q": f"{q:g}",
                    "(1 + q)/2": f"{(1 + q) / 2:.3f}",
                    "measured rule share (cells' mean)": f"{cells.mean():.3f}",
                    "range over cells": f"{cells.min():.3f} to {cells.max():.3f}",
                    "teacher accuracy": f"{group.weak_test_acc.mean():.3f}",
                }
            )
    return markdown_table(pd.DataFrame(rows))


def _crossing_table(found: dict[int, pd.DataFrame]) -> str:
    rows = []
    for n, cells in found.items():
        inside = cells[np.isfinite(cells.q)]
        width = (inside.q_hi - inside.q_lo).where(np.isfinite(inside.q_hi - inside.q_lo))
        rows.append(
            {
                "n_st": n,
                "cells": len(cells),
                "already at q = 0": int((cells.q == -np.inf).sum()),
                "crossing inside (0, 1)": len(inside),
                "not by q = 1": int((cells.q == np.inf).sum()),
                "median q (crossing cells)": num(inside.q.median()) if len(inside) else "none",
                "median 95% interval width": num(width.median()) if width.notna().any() else "none",
            }
        )
    return markdown_table(pd.DataFrame(rows))


def _subsets(prediction: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {
        "all cells": prediction,
        "teacher accuracy within 0.01 of the oracles'": prediction[prediction.near_oracle_acc],
        "the other cells": prediction[~prediction.near_oracle_acc],
    }


def _agreement_table(predictions: dict[int, pd.DataFrame]) -> str:
    if not predictions:
        return waiting(TRAINED[300])
    rows = []
    for n, prediction in predictions.items():
        for name, part in _subsets(prediction).items():
            row = {"n_st": n, "cells": name, "count": len(part)}
            for metric, label in (("gain_final", "final gain"), ("gain_best", "best gain")):
                a = mixture.agreement(part, metric) if len(part) > 1 else {}
                row[f"{label}: R²"] = num(a["r2"]) if a else "n/a"
                row[f"{label}: rms residual"] = num(a["rms"], 3) if a else "n/a"
            rows.append(row)
    return markdown_table(pd.DataFrame(rows))


def _residual_table(predictions: dict[int, pd.DataFrame], top: int = 6) -> str:
    if not predictions:
        return waiting(TRAINED[300])
    frame = pd.concat(predictions.values(), ignore_index=True)
    frame = frame.reindex(frame.gain_final_residual.abs().sort_values(ascending=False).index)
    rows = [
        {
            "n_st": int(r.n_st),
            "n_st·snr": f"{r.n_st_snr:g}",
            "d/n_st": f"{r.d_over_n:g}",
            "trained rule share": f"{r.trained_rule_share:.3f}",
            "trained accuracy": f"{r.trained_acc:.3f}",
            "final gain, trained": num(r.gain_final_trained, 3),
            "predicted": num(r.gain_final_predicted, 3),
        }
        for r in frame.head(top).itertuples()
    ]
    return markdown_table(pd.DataFrame(rows))


def _verdict(predictions: dict[int, pd.DataFrame]) -> str:
    if not predictions:
        return waiting(TRAINED[300])
    parts = []
    for n, prediction in predictions.items():
        r2 = mixture.agreement(prediction, "gain_final")["r2"]
        word = (
            "explained"
            if r2 >= EXPLAINED
            else "partly explained"
            if r2 >= PARTLY
            else "not explained"
        )
        parts.append(
            f"at n_st = {n}, **{word}** (final gain R² = {num(r2)} over {len(prediction)} cells)"
        )
    return "; ".join(parts)


# -- figures -------------------------------------------------------------------------------


def _cell_grid(cells: pd.DataFrame, column: str):
    xs = np.sort(cells.n_st_snr.unique())
    ys = np.sort(cells.d_over_n.unique())
    grid = cells.pivot_table(index="d_over_n", columns="n_st_snr", values=column, aggfunc="first")
    return xs, ys, grid.reindex(index=ys, columns=xs).to_numpy(float)


def _heat(ax, cells, column, title, cmap, vmin, vmax):
    xs, ys, values = _cell_grid(cells, column)
    finite = np.where(np.isfinite(values), values, np.nan)
    image = ax.imshow(finite, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    for (j, i), v in np.ndenumerate(values):
        if v == -np.inf:
            ax.add_patch(_box(i, j, "0.25", ""))
        elif v == np.inf:
            ax.add_patch(_box(i, j, "white", "///"))
    ax.set_xticks(range(len(xs)), [f"{x:g}" for x in xs], rotation=60, fontsize=8)
    ax.set_yticks(range(len(ys)), [f"{y:g}" for y in ys], fontsize=8)
    ax.set_xlabel("n_st·snr", fontsize=9)
    ax.set_ylabel("d / n_st", fontsize=9)
    ax.set_title(title, fontsize=9.5)
    return image


def _box(i, j, color, hatch):
    from matplotlib.patches import Rectangle

    return Rectangle(
        (i - 0.5, j - 0.5), 1, 1, facecolor=color, hatch=hatch, edgecolor="0.6", lw=0.3
    )


def _draw_crossings(gain: dict, imitation: dict) -> None:
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    for n in gain:
        fig = Figure(figsize=(8.4, 4.1), layout="constrained")
        axes = fig.subplots(1, 2)
        panels = (
            (gain[n], "rule share q where the final gain\nfalls through 0"),
            (imitation[n], f"rule share q where imitation\npasses {IMITATION_LEVEL:g}"),
        )
        for ax, (cells, title) in zip(axes, panels, strict=True):
            image = _heat(ax, cells, "q", title, "viridis", 0.0, 1.0)
        fig.colorbar(image, ax=axes, shrink=0.8, label="q")
        fig.legend(
            handles=[
                Patch(facecolor="0.25", label="past it already at q = 0"),
                Patch(facecolor="white", hatch="///", edgecolor="0.6", label="not by q = 1"),
            ],
            loc="outside lower center",
            ncols=2,
            fontsize=8.5,
            frameon=False,
        )
        fig.suptitle(f"Mixed oracle, n_st = {n}: seed means over the plane", fontsize=10)
        suffix = "" if n == 300 else f"_{n}"
        plots.save(fig, FIGURES / f"teacher_axis_crossings{suffix}.png")


def _draw_prediction(predictions: dict[int, pd.DataFrame]) -> None:
    from matplotlib.figure import Figure

    for n, prediction in predictions.items():
        fig = Figure(figsize=(11.0, 3.7), layout="constrained")
        axes = fig.subplots(1, 3)
        for ax, metric, label in (
            (axes[0], "gain_final", "final gain"),
            (axes[1], "gain_best", "best gain"),
        ):
            for near, color, name in (
                (True, "C0", "teacher accuracy near the oracles'"),
                (False, "C3", "other cells"),
            ):
                part = prediction[prediction.near_oracle_acc == near]
                ax.scatter(
                    part[f"{metric}_predicted"],
                    part[f"{metric}_trained"],
                    s=14,
                    color=color,
                    label=name,
                )
            lo = min(prediction[f"{metric}_predicted"].min(), prediction[f"{metric}_trained"].min())
            hi = max(prediction[f"{metric}_predicted"].max(), prediction[f"{metric}_trained"].max())
            ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--")
            ax.set_xlabel(f"{label}, mixture at the trained share", fontsize=9)
            ax.set_ylabel(f"{label}, trained teacher", fontsize=9)
            ax.tick_params(labelsize=8)
        axes[0].legend(fontsize=8, loc="upper left")
        span = float(np.nanmax(np.abs(prediction.gain_final_residual)))
        image = _heat(
            axes[2],
            prediction.assign(r=prediction.gain_final_residual),
            "r",
            "final gain: trained − predicted",
            "RdBu",
            -span,
            span,
        )
        fig.colorbar(image, ax=axes[2], shrink=0.85)
        fig.suptitle(
            f"The trained teacher (n_st = {n}) against the mixture at its rule share", fontsize=10
        )
        suffix = "" if n == 300 else f"_{n}"
        plots.save(fig, FIGURES / f"teacher_axis_prediction{suffix}.png")
