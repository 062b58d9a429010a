"""Configuration: the data model (SPEC §1), the training pipeline (SPEC §2-§3), and
their split into a static, hashable part (shapes, step counts, switches) and a traced
pytree of numbers that grids vmap over (STYLE: "static config, traced parameters").
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from w2s_jax.model import digit_images as digits

__all__ = [
    "ConfigError",
    "DataConfig",
    "TrainConfig",
    "Static",
    "Params",
    "record_steps",
    "split",
    "static_of",
    "check_compatible",
    "check_dataset",
    "check_dtype_enabled",
    "dtype_scope",
    "N_ST_MAX",
    "D_MAX",
    "show",
    "DATA_FIELDS",
    "TRAIN_FIELDS",
    "STRING_FIELDS",
]

PROBABILITY_TOLERANCE = 1e-9
MAX_CLASSES = 1000
# The largest n_st we accept: 10^6 training points of 3 patches is already ~12 GB at d=1000.
N_ST_MAX = 1_000_000
#: The largest `d`: the Wishart path takes `d` as a float, exact as an integer below 2^53.
D_MAX = 10**15


class ConfigError(ValueError):
    """A config value is missing, of the wrong type or out of range. The message names the key."""


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


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise ConfigError(f"{name}: expected an integer, got {show(value)}")
    value = int(value)
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"in [{show(low)}, {show(high)}]"
        raise ConfigError(f"{name}: must be an integer {allowed}, got {show(value)}")
    return value


def _check_float(
    name: str,
    value: Any,
    *,
    positive: bool = False,
    low: float | None = None,
    high: float | None = None,
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name}: expected a number, got {show(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"{name}: must be finite, got {value}")
    if positive and value <= 0:
        raise ConfigError(f"{name}: must be > 0, got {show(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        allowed = f">= {low}" if high is None or math.isinf(high) else f"in [{low}, {high}]"
        raise ConfigError(f"{name}: must be {allowed}, got {show(value)}")
    return value


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(
            f"{name}: must be one of {', '.join(map(repr, choices))}, got {show(value)}"
        )
    return value


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """The data distribution D of SPEC §1 (a reconstruction of Oh, Song & Yun 2025, §2).

    `p_e` may be left out (it is `1 - p_h - p_b`); if given, the three must sum to 1.
    """

    d: int = 1000
    mu_norm: float = 5.0
    nu_norm: float = 5.0
    sigma_p: float = 1.0
    p_h: float = 0.3
    p_b: float = 0.4
    p_e: float | None = None
    easy_layout: str = "orthogonal"
    hard_sign: str = "shared"
    n_classes: int = 2
    dataset: str = "synthetic"
    digit_classes: str = "01/67"
    # Real images (dataset "digits" or "mnist"): images per class in each role's pool, and
    # whether an image may come round again within its pool (model.digit_images.role_pools).
    image_pool: int | str = "all"
    images_recur: bool = False

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)
        set_("d", _check_int("d", self.d, 8, D_MAX))
        for name in ("mu_norm", "nu_norm", "sigma_p"):
            set_(name, _check_float(name, getattr(self, name), positive=True))
        set_("p_h", _check_float("p_h", self.p_h, low=0.0, high=1.0))
        set_("p_b", _check_float("p_b", self.p_b, low=0.0, high=1.0))
        if self.p_e is None:
            p_e = 1.0 - self.p_h - self.p_b
            if p_e < -PROBABILITY_TOLERANCE:
                raise ConfigError(
                    f"p_h + p_b: must be <= 1 (p_e = 1 - p_h - p_b), got {self.p_h + self.p_b}"
                )
            set_("p_e", max(p_e, 0.0))
        else:
            set_("p_e", _check_float("p_e", self.p_e, low=0.0, high=1.0))
            total = self.p_e + self.p_h + self.p_b
            if abs(total - 1.0) > PROBABILITY_TOLERANCE:
                raise ConfigError(f"p_e + p_h + p_b: must sum to 1, got {total}")
        _check_choice("easy_layout", self.easy_layout, ("orthogonal", "antipodal"))
        _check_choice("hard_sign", self.hard_sign, ("shared", "antipodal"))
        # Beyond the theorems (SPEC §9): 2K orthogonal signals must fit on the first d coordinates.
        set_("n_classes", _check_int("n_classes", self.n_classes, 2, MAX_CLASSES))
        if 2 * self.n_classes > self.d - 1:
            raise ConfigError(
                f"n_classes: 2·n_classes signals need d > 2·n_classes, got n_classes = "
                f"{self.n_classes} at d = {self.d}"
            )
        if self.n_classes > 2 and self.easy_layout != "orthogonal":
            raise ConfigError(
                f"easy_layout: n_classes > 2 needs 'orthogonal', got {self.easy_layout!r}"
            )
        _check_choice("dataset", self.dataset, DATASETS)
        try:
            digits.parse_digit_classes(self.digit_classes)
        except ValueError as err:
            raise ConfigError(f"digit_classes: {err}") from None
        # Real images: the pixels on e1..e_k, noise on the other d - k coordinates.
        if self.dataset in digits.IMAGE_DATASETS:
            low = digits.pixels(self.dataset) + 1
            if self.d < low:
                raise ConfigError(
                    f"d: dataset {self.dataset!r} needs d >= {low} ({low - 1} pixels and a "
                    f"noise patch), got {self.d}"
                )
            if self.easy_layout != "orthogonal":
                raise ConfigError(
                    f"easy_layout: dataset {self.dataset!r} supports only 'orthogonal' (the "
                    f"easy pair is two digit classes), got {self.easy_layout!r}"
                )

        if self.n_classes > 2 and self.dataset in digits.IMAGE_DATASETS:
            raise ConfigError(
                f"n_classes: dataset {self.dataset!r} has one binary pair per feature, so "
                f"n_classes must be 2, got {self.n_classes}"
            )
        # Image pools (real images only).
        if self.image_pool != "all":
            if isinstance(self.image_pool, str):
                raise ConfigError(
                    f"image_pool: expected an integer >= 1 or 'all', got {show(self.image_pool)}"
                )
            set_("image_pool", _check_int("image_pool", self.image_pool, 1, N_ST_MAX))
        if not isinstance(self.images_recur, (bool, np.bool_)):
            raise ConfigError(
                f"images_recur: expected true or false, got {show(self.images_recur)}"
            )
        set_("images_recur", bool(self.images_recur))
        if self.dataset not in digits.IMAGE_DATASETS:
            for name, default in (("image_pool", "all"), ("images_recur", False)):
                if getattr(self, name) != default:
                    raise ConfigError(
                        f"{name}: applies to the real images only (dataset "
                        f"{' or '.join(map(repr, digits.IMAGE_DATASETS))}), got "
                        f"{show(getattr(self, name))} with dataset {self.dataset!r}"
                    )


DATASETS = ("synthetic", "digits", "mnist")


OPTIMIZERS = ("sgd", "momentum", "adam")
ENGINES = ("direct", "gram", "auto", "limit")
GRAM_NOISES = ("sampled", "wishart")
#: Update rules linear in the gradient: the Gram engine's coefficients follow them exactly.
GRAM_OPTIMIZERS = ("sgd", "momentum")
#: The output weights `a_{s,r}`: fixed at `±scale` (SPEC §2) or trained (SPEC §9).
SECOND_LAYERS = ("fixed", "trained")
#: Who labels the student's data: the weak model trained on the cell's distribution, or a
#: fixed oracle (`training.teacher`) whose hard-only labels are a coin or a rule (`eps`).
TEACHERS = ("trained", "oracle")
HARD_LABELS = ("coin", "rule")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The pipeline of SPEC §2-§3: weak training, pseudo-labelling, strong training, evaluation.

    `record_schedule="linear"` records every `record_every` steps; `"log"` records at
    `record_points` log-spaced steps (the early-stopping peak can come within tens of steps).
    Step 0 and step `T` are always recorded.

    `engine="gram"` trains the strong model in kernel space (w2s_jax.engines.gram); `gram_noise`
    says where its noise Gram matrix comes from: `"sampled"` noise (the same draws as the
    direct engine) or `"wishart"` (drawn from its law, cost independent of `d`).
    """

    n_st: int = 300
    m: int = 20
    sigma_0: float = 0.01
    n_wk: int = 1000
    eta_wk: float = 0.1
    T_wk: int = 200
    eta: float = 0.2
    T: int = 400
    record_every: int = 20
    record_schedule: str = "linear"
    record_points: int = 40
    n_test: int = 2000
    output_scale: str = "1/m"
    optimizer: str = "sgd"
    optimizer_wk: str = "sgd"
    engine: str = "direct"
    gram_noise: str = "sampled"
    dtype: str = "float32"
    batch_size: int = 0
    second_layer: str = "fixed"
    eta_a: float | None = None
    teacher: str = "trained"
    hard_labels: str = "coin"

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("n_st", _check_int("n_st", self.n_st, 1, N_ST_MAX))
        set_("m", _check_int("m", self.m, 1, 100_000))
        set_("n_wk", _check_int("n_wk", self.n_wk, 1, N_ST_MAX))
        set_("n_test", _check_int("n_test", self.n_test, 1, N_ST_MAX))
        set_("T", _check_int("T", self.T, 0, 10_000_000))
        set_("T_wk", _check_int("T_wk", self.T_wk, 0, 10_000_000))
        set_("record_every", _check_int("record_every", self.record_every, 1, 2**31 - 1))
        set_("record_points", _check_int("record_points", self.record_points, 2, 100_000))
        set_("sigma_0", _check_float("sigma_0", self.sigma_0, low=0.0))
        set_("eta", _check_float("eta", self.eta, positive=True))
        set_("eta_wk", _check_float("eta_wk", self.eta_wk, positive=True))
        _check_choice("record_schedule", self.record_schedule, ("linear", "log"))
        _check_choice("output_scale", self.output_scale, ("1/m", "1"))
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("optimizer_wk", self.optimizer_wk, OPTIMIZERS)
        _check_choice("engine", self.engine, ENGINES)
        _check_choice("gram_noise", self.gram_noise, GRAM_NOISES)
        if self.engine == "limit":  # the Gram engine's coefficients, in the d → ∞ limit
            for name in ("optimizer", "optimizer_wk"):
                if getattr(self, name) not in GRAM_OPTIMIZERS:
                    raise ConfigError(
                        f"{name}: engine 'limit' needs one of {GRAM_OPTIMIZERS}, "
                        f"got {getattr(self, name)!r}"
                    )
        # Adam rescales each ambient coordinate, which no finite set of coefficients tracks.
        if self.engine == "gram" and self.optimizer not in GRAM_OPTIMIZERS:
            raise ConfigError(
                f"optimizer: engine 'gram' needs one of {GRAM_OPTIMIZERS}, got {self.optimizer!r}"
            )
        if self.gram_noise == "wishart":
            if self.engine == "direct":
                raise ConfigError("gram_noise: 'wishart' needs engine 'gram' or 'auto'")
            for name in ("optimizer", "optimizer_wk"):
                if getattr(self, name) not in GRAM_OPTIMIZERS:
                    raise ConfigError(
                        f"{name}: gram_noise 'wishart' needs one of "
                        f"{GRAM_OPTIMIZERS}, got {getattr(self, name)!r}"
                    )
        _check_choice("dtype", self.dtype, ("float32", "float64"))
        # Beyond the theorems (SPEC §9): 0 is full batch; a batch larger than n_st is all of it.
        set_("batch_size", _check_int("batch_size", self.batch_size, 0, N_ST_MAX))
        _check_choice("second_layer", self.second_layer, SECOND_LAYERS)
        _check_choice("teacher", self.teacher, TEACHERS)
        _check_choice("hard_labels", self.hard_labels, HARD_LABELS)
        eta_a = self.eta if self.eta_a is None else self.eta_a
        # eta_a = 0 freezes a trained second layer: the fixed model, as a point of an eta_a axis.
        set_("eta_a", _check_float("eta_a", eta_a, low=0.0, high=math.inf))


#: Field names of each config, in SPEC order (the parameter columns of the result tables).
DATA_FIELDS = tuple(f.name for f in dataclasses.fields(DataConfig))
TRAIN_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))
#: The switches (string-valued fields); every other field is a number.
STRING_FIELDS = (
    "easy_layout",
    "hard_sign",
    "dataset",
    "digit_classes",
    "record_schedule",
    "output_scale",
    "optimizer",
    "optimizer_wk",
    "engine",
    "gram_noise",
    "dtype",
    "second_layer",
    "teacher",
    "hard_labels",
)


def record_steps(train: TrainConfig) -> tuple[int, ...]:
    """The steps at which the strong model's metrics are recorded, always including 0 and T."""
    T = train.T
    if train.record_schedule == "linear":
        steps = set(range(0, T + 1, train.record_every))
    else:
        steps = set(
            np.unique(np.round(np.geomspace(1, max(T, 1), train.record_points - 1))).astype(int)
        )
        steps.add(0)
    steps.add(T)
    return tuple(sorted(s for s in steps if 0 <= s <= T))


class Static(NamedTuple):
    """Everything that fixes shapes or control flow: hashable, never traced.

    `n_max` is the padded size of the strong model's training set (n_st <= n_max is traced).
    `d` is 0 for the Wishart engine, which reads `Params.d` (a traced number) instead.
    `minibatch` is true when `batch_size > 0` (the batch size itself is traced, `Params`);
    `second_layer` is `"fixed"` or `"trained"`; `n_classes` is `K` (SPEC §9).
    `signal_dims` is the dimension `k` of the signal span: the signal patches `x1, x2` of every
    sample lie on `e1..ek` and the noise patch is orthogonal to them (4 for the synthetic
    binary model: `mu_{+1}, mu_{-1}, nu_{+1}, nu_{-1}`; 64 pixels for `dataset = "digits"`,
    784 for `"mnist"`).
    The engines rely on nothing else.
    """

    d: int
    m: int
    n_max: int
    n_wk: int
    n_test: int
    T: int
    T_wk: int
    record_steps: tuple[int, ...]
    easy_layout: str = "orthogonal"
    hard_sign: str = "shared"
    output_scale: str = "1/m"
    optimizer: str = "sgd"
    optimizer_wk: str = "sgd"
    engine: str = "direct"
    dtype: str = "float32"
    gram_noise: str = "sampled"
    signal_dims: int = 4
    minibatch: bool = False
    second_layer: str = "fixed"
    teacher: str = "trained"
    hard_labels: str = "coin"
    n_classes: int = 2
    dataset: str = "synthetic"
    digit_classes: str = "01/67"
    image_pool: int | str = "all"
    images_recur: bool = False


class Params(NamedTuple):
    """Every number a user may sweep, as arrays (a pytree; grids vmap over its leaves)."""

    n_st: Any
    p_e: Any
    p_h: Any
    p_b: Any
    mu_norm: Any
    nu_norm: Any
    sigma_p: Any
    sigma_0: Any
    eta: Any
    eta_wk: Any
    d: Any  # traced only by the Wishart path; the other engines take d from Static
    batch_size: Any  # read only when Static.minibatch (int32)
    eta_a: Any  # the second layer's step size, read only when Static.second_layer is "trained"


#: Fields of Params that live in DataConfig; the rest live in TrainConfig.
DATA_PARAMS = ("p_e", "p_h", "p_b", "mu_norm", "nu_norm", "sigma_p", "d")
TRAIN_PARAMS = ("n_st", "sigma_0", "eta", "eta_wk", "batch_size", "eta_a")
#: Params leaves that are integers (int32); the rest take the run's float dtype.
INTEGER_PARAMS = ("n_st", "batch_size")


def check_compatible(data: DataConfig, train: TrainConfig) -> None:
    """Refuse switch combinations that no engine runs: K > 2 classes train in `R^d` only."""
    if data.n_classes > 2 and train.teacher != "trained":
        raise ConfigError(f"teacher: n_classes > 2 supports only 'trained', got {train.teacher!r}")
    if data.n_classes > 2 and train.engine == "limit":
        raise ConfigError(
            f"engine: n_classes > 2 runs on the 'direct' engine only, got 'limit' with "
            f"n_classes = {data.n_classes}"
        )
    if data.n_classes > 2 and train.engine == "gram":
        raise ConfigError(
            f"engine: n_classes > 2 runs on the 'direct' engine only (or 'auto', which then "
            f"picks it), got 'gram' with n_classes = {data.n_classes}"
        )


def check_dataset(data: DataConfig, train: TrainConfig) -> None:
    """What a data source asks of the pipeline: the real images hold a finite number of
    images, shared out into one pool per role (`model.digit_images.role_pools`). Every engine
    runs them: their signal patches lie on `e1..ek` (the pixels) and their noise is isotropic
    on the other coordinates, which is all the Gram engine uses; `engine = "auto"` trains
    them directly."""
    if data.dataset not in digits.IMAGE_DATASETS:
        return
    problem = digits.pool_problem(
        data.dataset,
        data.digit_classes,
        (train.n_wk, train.n_st, train.n_test),
        data.image_pool,
        data.images_recur,
    )
    if problem is not None:
        raise ConfigError(f"{problem[0]}: {problem[1]}")


def static_of(data: DataConfig, train: TrainConfig, n_max: int | None = None) -> Static:
    """The static part of a (data, train) configuration; `n_max` defaults to `n_st`."""
    check_dataset(data, train)
    n_max = train.n_st if n_max is None else n_max
    if n_max < train.n_st:
        raise ConfigError(f"n_max: must be >= n_st = {train.n_st}, got {n_max}")
    # The Wishart path draws the noise Gram from its law, where d is only a number (the
    # degrees of freedom): it is traced (Params.d), so cells at any d share one program.
    check_compatible(data, train)
    wishart = train.engine == "limit" or (train.engine == "gram" and train.gram_noise == "wishart")
    return Static(
        d=0 if wishart else data.d,
        m=train.m,
        n_max=int(n_max),
        n_wk=train.n_wk,
        n_test=train.n_test,
        T=train.T,
        T_wk=train.T_wk,
        record_steps=record_steps(train),
        easy_layout=data.easy_layout,
        hard_sign=data.hard_sign,
        output_scale=train.output_scale,
        optimizer=train.optimizer,
        optimizer_wk=train.optimizer_wk,
        engine=train.engine,
        dtype=train.dtype,
        gram_noise=train.gram_noise,
        minibatch=train.batch_size > 0,
        second_layer=train.second_layer,
        teacher=train.teacher,
        hard_labels=train.hard_labels,
        n_classes=data.n_classes,
        signal_dims=digits.IMAGE_DATASETS.get(data.dataset, 2 * data.n_classes),
        dataset=data.dataset,
        digit_classes=data.digit_classes,
        image_pool=data.image_pool,
        images_recur=data.images_recur,
    )


def dtype_scope(dtype: str):
    """The context a run of `dtype` computes in: JAX's 64-bit mode on for `"float64"` and off
    for `"float32"`, whatever the global setting, so a float32 run computes the same numbers
    in every process. The sweep and `w2s run` enter it themselves."""
    return jax.enable_x64(dtype == "float64")


def check_dtype_enabled(dtype: str) -> None:
    """Refuse float64 when JAX would silently compute it in float32."""
    if dtype == "float64" and not jax.config.jax_enable_x64:
        raise ConfigError(
            "dtype: 'float64' needs JAX's 64-bit mode, which is off here (JAX would compute "
            "in float32); call inside `with w2s_jax.dtype_scope('float64'):` (or "
            "`jax.enable_x64(True)`), or use `w2s run` / `w2s sweep`, which turn it on"
        )


def split(data: DataConfig, train: TrainConfig, n_max: int | None = None) -> tuple[Static, Params]:
    """Split a (data, train) configuration into the static part and the traced parameters.

    A float64 configuration is refused unless JAX's 64-bit mode is on (`dtype_scope`).
    """
    check_dtype_enabled(train.dtype)
    static = static_of(data, train, n_max)
    dtype = jnp.dtype(train.dtype)
    numbers = {k: getattr(data, k) for k in DATA_PARAMS} | {
        k: getattr(train, k) for k in TRAIN_PARAMS
    }
    params = Params(
        **{
            k: jnp.asarray(v, dtype=jnp.int32 if k in INTEGER_PARAMS else dtype)
            for k, v in numbers.items()
        }
    )
    return static, params
