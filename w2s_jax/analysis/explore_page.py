"""The explorer's chart (Vega-Lite, written with Altair) and its self-contained HTML page.

`chart(tables)` lays out the map and the trajectory panels of `explore.Tables`; `html(spec)`
writes the page with the Vega, Vega-Lite and vega-embed JavaScript that vl-convert-python
ships inline, so the page opens from disk and makes no network request. Altair is imported
here, inside the functions, so that importing w2s_jax does not import it.

Names the browser test reads: the map's units are `map_class` (class colours), `map_value`
(graded colours), `map_undecided` (dashed outlines) and `map_pick` (the clickable layer);
the runs' panels are `runs_<column>`; the page sets `window.explorerView` (the Vega view).
"""

from __future__ import annotations

import functools
import html as html_text
import json

import numpy as np
import pandas as pd

from w2s_jax.analysis import maps, plots
from w2s_jax.analysis.classes import CLASSES

__all__ = ["chart", "html", "label"]

#: Colour scheme of each graded quantity (Vega's names); others are viridis.
SCHEMES = {
    "gain_final": "redblue",
    "gain_best": "redblue",
    "label_correction_best": "viridis",
    "best_step": "magma",
    "teacher_rule_share": "purples",
    "imitation_final": "oranges",
}
CELL = 34  # pixels a cell of the map
MINIMUM = (240, 60)  # the map's least width and height (a few cells get wider ones)
PANEL = (250, 140)  # a trajectory panel's width and height
_SIGNALS = {
    "gamma_mu": "easy, mu",
    "gamma_nu_pos": "hard, nu +",
    "gamma_nu_neg": "hard, nu −",
}


def label(value) -> str:
    """A grid value as the page writes it: `0.53`, `3000`, `20000`, `coin`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return str(value)
    value = float(value)
    if value.is_integer() and abs(value) < 1e7:
        return str(int(value))
    return f"{value:.4g}"


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts (NaN as null, numpy scalars as Python numbers)."""
    return json.loads(frame.to_json(orient="records", double_precision=6))


def _ternary(name: str, table: dict, default) -> str:
    """A Vega expression: `table[name]`, else `default`."""
    expr = json.dumps(default)
    for key, value in table.items():
        expr = f"{name} == {json.dumps(key)} ? {json.dumps(value)} : ({expr})"
    return expr


def _ranges(values: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """The colour range of each graded metric: one range symmetric about 0 for both gains,
    [0, 1] for the share corrected, up to 1 from 1/2 (or below) for the agreement shares,
    the cells' range otherwise (never empty)."""
    out = {}
    gains = values.loc[values["metric"].str.startswith("gain"), "value"].abs().astype(float)
    gains = gains[np.isfinite(gains)]
    top = max(float(gains.max()) if len(gains) else 0.0, 1e-3)
    for metric in values["metric"].unique():
        v = values.loc[values["metric"] == metric, "value"].astype(float)
        v = v[np.isfinite(v)]
        if metric == "class":
            continue
        if metric.startswith("gain"):
            out[metric] = (-top, top)
        elif metric in ("label_correction_best", "teacher_rule_share", "imitation_final"):
            low = 0.0 if metric == "label_correction_best" else 0.5
            out[metric] = (min(low, float(v.min())) if len(v) else low, 1.0)
        else:
            lo, hi = (float(v.min()), float(v.max())) if len(v) else (0.0, 1.0)
            out[metric] = (lo, hi if hi > lo else lo + 1.0)
    return out


def _position(alt, axis, channel, field: str):
    """A map axis: each grid value at its position, labelled by it (∞ for `d = ∞`)."""
    guide = alt.Axis(
        values=sorted(axis.positions.values()),
        labelExpr=axis.label_expr(),
        labelOverlap=False,
        labelFontSize=9,
        grid=False,
        title=axis.title,
        tickSize=3,
    )
    scale = alt.Scale(domain=list(axis.span), nice=False, zero=False)
    return channel(f"{field}:Q", scale=scale, axis=guide)


def _map(alt, tables, pick, shown: str):
    """The map's layers: class colours, graded colours, undecided outlines, the picked
    cell, the `tau = C` line and the clickable layer with the tooltip."""
    ax, ay = tables.axes
    base = (
        alt.Chart(alt.NamedData(name="values"))
        .transform_filter(shown)
        .transform_calculate(
            x0="datum.px - 0.5", x1="datum.px + 0.5", y0="datum.py - 0.5", y1="datum.py + 0.5"
        )
        .encode(
            x=_position(alt, ax, alt.X, "x0"),
            x2="x1:Q",
            y=_position(alt, ay, alt.Y, "y0"),
            y2="y1:Q",
        )
    )
    chosen = base.transform_filter("datum.metric == metric")
    is_class = "metric == 'class'"
    order = [c.replace("_", " ") for c in CLASSES] + [plots.TIE[0], maps.UNDECIDED[0]]
    colours = [plots.CLASS_COLORS[c] for c in CLASSES] + [plots.TIE[1], maps.UNDECIDED[1]]
    dim = {"expr": f"{is_class} ? 1 : 0.3"}
    classes = (
        chosen.transform_filter(is_class)
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            color=alt.Color(
                "category:N",
                scale=alt.Scale(domain=order, range=colours),
                legend=alt.Legend(title="class", labelOpacity=dim, symbolOpacity=dim),
            )
        )
        .properties(name="map_class")
    )
    ranges = _ranges(tables.values)
    faint = {"expr": f"{is_class} ? 0.15 : 1"}
    graded = (
        chosen.transform_filter(f"!({is_class})")
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            color=alt.Color(
                "value:Q",
                scale=alt.Scale(
                    scheme={"expr": _ternary("metric", SCHEMES, "viridis")},
                    domainMin={"expr": _ternary("metric", {k: v[0] for k, v in ranges.items()}, 0)},
                    domainMax={"expr": _ternary("metric", {k: v[1] for k, v in ranges.items()}, 1)},
                    clamp=True,
                ),
                legend=alt.Legend(title="seed mean", gradientOpacity=faint, labelOpacity=faint),
            )
        )
        .properties(name="map_value")
    )
    undecided = (
        chosen.transform_filter("datum.undecided")
        .mark_rect(filled=False, stroke="black", strokeDash=[3, 2], strokeWidth=1.2)
        .properties(name="map_undecided")
    )
    picked = chosen.transform_filter(pick).mark_rect(filled=False, stroke="black", strokeWidth=2.5)
    layers = [classes, graded, undecided, picked]
    if len(tables.points):
        line = (
            alt.Chart(alt.NamedData(name="line"))
            .transform_filter(_slice_filter(tables.slices))
            .mark_line(color="black", strokeDash=[6, 4], strokeWidth=1.5)
            .encode(
                x=_position(alt, ax, alt.X, "px"),
                y=_position(alt, ay, alt.Y, "py"),
                order="order:O",
            )
        )
        layers.append(line)
    tooltip = [
        alt.Tooltip("xlabel:N", title=ax.title),
        *([alt.Tooltip("ylabel:N", title=ay.title)] if ay.column else []),
        alt.Tooltip("label:N", title="colour"),
        alt.Tooltip("text:N", title="seed mean ± seed SE"),
        alt.Tooltip("seeds:Q", title="seeds"),
        alt.Tooltip("classes:N", title="runs per class"),
        alt.Tooltip("state:N", title="cell"),
    ]
    hover = (
        chosen.mark_rect(fill="transparent", cursor="pointer")
        .encode(tooltip=tooltip)
        .add_params(pick)
        .properties(name="map_pick")
    )
    layers.append(hover)
    title = _ternary("metric", {m: tables.metric_names[m] for m in tables.metrics}, "")
    width = max(CELL * (ax.span[1] - ax.span[0]), MINIMUM[0])
    height = max(CELL * (ay.span[1] - ay.span[0]), MINIMUM[1])
    the_map = (
        alt.layer(*layers)
        .resolve_scale(color="independent")
        .properties(width=width, height=height, title=alt.Title({"expr": title}))
    )
    if not len(tables.labels):
        return the_map
    caption = (
        alt.Chart(alt.NamedData(name="captions"))
        .transform_filter(_slice_filter(tables.slices))
        .mark_text(align="left", fontSize=11)
        .encode(text="text:N")
        .properties(width=width, height=14)
    )
    return alt.vconcat(the_map, caption)


def _slice_filter(slices) -> str:
    return " && ".join(["true", *(f"datum.s_{s} == axis_{s}" for s in slices)])


def _sliced(frame: pd.DataFrame, slices) -> list[dict]:
    """`frame` with each slice column as the text its dropdown compares with."""
    return _records(frame.assign(**{f"s_{s}": frame[s].map(label) for s in slices}))


def _step_ticks(last: float) -> list[float]:
    ticks = [0.0] + [10.0**k for k in range(int(np.log10(max(last, 1))) + 1)]
    return ticks + ([float(last)] if last > 2 * ticks[-1] else [])


def _runs(alt, tables, pick):
    """The clicked cell's heading and its seeds' curves: test accuracy with the teacher's and
    the harmful level, train accuracy on the pseudo-labels, the share corrected, the signal
    components."""
    w, h = PANEL
    columns = tables.curve_columns
    parse = {c: "number" for c in ["cell", "run", "seed", "step", *columns]}
    step = alt.X(
        "step:Q",
        scale=alt.Scale(type="symlog"),
        axis=alt.Axis(values=_step_ticks(tables.last_step), grid=False, format="d"),
        title="step",
    )
    seed = alt.Color("seed:N", title="seed")

    def panel(y, title, name, **encoding):
        return (
            alt.Chart()
            .transform_filter(pick)
            .mark_line(strokeWidth=1.2)
            .encode(x=step, y=y, color=seed, detail="run:N", **encoding)
            .properties(width=w, height=h, title=title, name=name)
        )

    def curve(column):
        title = tables.curve_names[column]
        y = alt.Y(f"{column}:Q", scale=alt.Scale(zero=False), title=None)
        return panel(y, title, f"runs_{column}")

    panels = []
    if "test_acc" in columns:
        levels = alt.NamedData(name="cells")
        marks = [curve("test_acc")]
        for column, name, dash in (
            ("weak_test_acc", "teacher", [1, 0]),
            ("harmful_level", "harmful below", [4, 3]),
        ):
            rule = alt.Chart(levels).transform_filter(pick).encode(y=f"{column}:Q")
            marks.append(rule.mark_rule(color="black", strokeDash=dash))
            marks.append(
                rule.mark_text(align="right", dy=-5, fontSize=9, text=name).encode(
                    x=alt.value(w - 2)
                )
            )
        panels.append(alt.layer(*marks))
    panels += [curve(c) for c in ("train_acc_pseudo", "label_correction") if c in columns]
    signals = [c for c in _SIGNALS if c in columns]
    if signals:
        panels.append(
            panel(
                alt.Y("gamma:Q", title=None),
                "signal components (easy, hard)",
                "runs_signal",
                strokeDash=alt.StrokeDash("component:N", title="signal"),
            )
            .transform_fold(signals, as_=["component", "gamma"])
            .transform_calculate(component=_ternary("datum.component", _SIGNALS, ""))
        )
    curves = alt.VConcatChart(
        vconcat=[alt.hconcat(*panels[i : i + 2]) for i in range(0, len(panels), 2)],
        data=alt.InlineData(values=tables.csv, format=alt.DataFormat(type="csv", parse=parse)),
    )
    heading = (
        alt.Chart(alt.NamedData(name="cells"))
        .transform_filter(pick)
        .mark_text(align="left", fontSize=12, fontWeight="bold")
        .encode(text="heading:N")
        .properties(width=2 * w, height=16, name="picked_cell")
    )
    hint = (
        alt.Chart(alt.InlineData(values=[{"hint": "click a cell of the map: its runs show here"}]))
        .transform_filter("!length(data('pick_store'))")
        .mark_text(align="left", fontSize=12, color="#555")
        .encode(text="hint:N")
    )
    return alt.vconcat(alt.layer(heading, hint), curves)


def chart(tables):
    """The explorer's Altair chart of `explore.Tables`."""
    import altair as alt

    params = [
        alt.param(
            name="metric",
            value=tables.metric,
            bind=alt.binding_select(
                options=tables.metrics,
                labels=[tables.metric_names[m] for m in tables.metrics],
                name="colour: ",
            ),
        )
    ]
    for s in tables.slices:
        options = [label(v) for v in sorted(tables.cells[s].dropna().unique().tolist())]
        bind = alt.binding_select(options=options, name=f"{s}: ")
        params.append(alt.param(name=f"axis_{s}", value=options[0], bind=bind))
    pick = alt.selection_point(name="pick", fields=["cell"], empty=False, on="click")
    subtitle = [
        "Colour: the dropdown under the map. Hover a cell: seed mean ± seed standard error, "
        "seeds, classes. Click a cell: its seeds' runs.",
        "Dashed outline: undecided (a seed mean within one seed standard error of a cutoff "
        f"that decides the class). {tables.notes[0]}.",
        *(note[0].upper() + note[1:] + "." for note in tables.notes[1:]),
    ]
    page = (
        alt.hconcat(_map(alt, tables, pick, _slice_filter(tables.slices)), _runs(alt, tables, pick))
        .add_params(*params)
        .resolve_scale(color="independent", strokeDash="independent")
        .properties(
            title=alt.Title(f"w2s explorer: {tables.names}", subtitle=subtitle, anchor="start")
        )
        .configure_view(stroke=None)
        # Vega sizes the page short of the right legend's labels and the last axes: room.
        .properties(padding={"left": 5, "top": 5, "right": 60, "bottom": 30})
    )
    # The tables go in once, by name, at the end: Altair copies inline data at every step.
    page.datasets = {
        "values": _records(tables.values),
        "cells": _records(tables.cells[["cell", "heading", "weak_test_acc", "harmful_level"]]),
        "line": _sliced(tables.points, tables.slices) if len(tables.points) else [],
        "captions": _sliced(tables.labels, tables.slices) if len(tables.labels) else [],
    }
    # Altair lists every named layer of the map as a view of the click selection, which
    # Vega would then define once per layer (a duplicate signal): keep the layer it is on.
    for param in page.params:
        if param.name == "pick":
            param.views = [v for v in param.views if v.startswith("map_pick")]
    return page


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
  body {{ font-family: sans-serif; margin: 12px; }}
  .vega-bindings {{ display: flex; flex-wrap: wrap; gap: 4px 18px; margin-top: 8px; }}
  .vega-bind-name {{ margin-right: 4px; }}
</style>
<script>
{bundle}
</script>
</head>
<body>
<div id="explorer"></div>
<script>
const spec = {spec};
vegaEmbed("#explorer", spec, {options})
  .then(function (result) {{ window.explorerView = result.view; }})
  .catch(function (error) {{ console.error(error); }});
</script>
</body>
</html>
"""


@functools.cache
def _bundle() -> str:
    """vega-embed with Vega and the Vega-Lite version Altair writes (vl-convert builds it in
    about two seconds: once a process)."""
    import altair as alt
    import vl_convert

    return vl_convert.javascript_bundle(
        vl_version="v" + "_".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    )


def html(spec: dict) -> str:
    """The page of a Vega-Lite `spec`: SVG renderer, the JavaScript inline, no request."""
    actions = dict(export=True, source=False, compiled=False, editor=False)
    # logLevel 1: errors only (the empty panels before a click warn of their empty extent).
    options = dict(renderer="svg", actions=actions, logLevel=1)
    title = spec.get("title", {})
    text = title.get("text", "w2s explorer") if isinstance(title, dict) else str(title)
    return _TEMPLATE.format(
        title=html_text.escape(str(text)),
        bundle=_bundle(),
        spec=json.dumps(spec, allow_nan=False).replace("</", "<\\/"),
        options=json.dumps(options),
    )
