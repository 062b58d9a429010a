"""Configuration: the data model, the training pipeline, and their split into a static,
hashable part (shapes, step counts, switches) and a traced pytree of numbers that grids vmap
over (STYLE: "static config, traced parameters").

Every field is declared once, in `model.schema`: its type and range, default and section, and
whether `Static` or `Params` carries it. The dataclasses, `Static`, `Params` and the field
lists below are derived from it; this module adds the rules across fields.
"""

from __future__ import annotations

import numpy as np

from w2s_jax.model import digit_images as digits
from w2s_jax.model.schema import (  # noqa: F401 (the ranges and choices, read from here too)
    D_MAX,
    DATASETS,
    ENGINES,
    GRAM_NOISES,
    HARD_LABELS,
    INT32,
    MAX_CLASSES,
    N_ST_MAX,
    OPTIMIZERS,
    SCHEMA,
    SECOND_LAYERS,
    TEACHERS,
    ConfigError,
    show,
)

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
#: Update rules linear in the gradient: the Gram engine's coefficients follow them exactly.
GRAM_OPTIMIZERS = ("sgd", "momentum")


def _error(key: str, text: str) -> ConfigError:
    return SCHEMA.error(key, text)


@SCHEMA.config_class("data")
class DataConfig:
    """The data distribution D (a reconstruction of Oh, Song & Yun 2025, §2).

    `p_e` may be left out (it is `1 - p_h - p_b`); if given, the three must sum to 1.
    """

    def _check(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)
        if self.p_e is None:
            p_e = 1.0 - self.p_h - self.p_b
            if p_e < -PROBABILITY_TOLERANCE:
                raise ConfigError(
                    f"p_h + p_b: must be <= 1 (p_e = 1 - p_h - p_b), got {self.p_h + self.p_b}"
                )
            set_("p_e", max(p_e, 0.0))
        else:
            total = self.p_e + self.p_h + self.p_b
            if abs(total - 1.0) > PROBABILITY_TOLERANCE:
                raise ConfigError(f"p_e + p_h + p_b: must sum to 1, got {total}")
        # Beyond the theorems: 2K orthogonal signals must fit on the first d coordinates.
        if 2 * self.n_classes > self.d - 1:
            raise _error(
                "n_classes",
                f"2·n_classes signals need d > 2·n_classes, got n_classes = "
                f"{self.n_classes} at d = {self.d}",
            )
        if self.n_classes > 2 and self.easy_layout != "orthogonal":
            raise _error(
                "easy_layout", f"n_classes > 2 needs 'orthogonal', got {self.easy_layout!r}"
            )
        try:
            digits.parse_digit_classes(self.digit_classes)
        except ValueError as err:
            raise _error("digit_classes", str(err)) from None
        # Real images: the pixels on e1..e_k, noise on the other d - k coordinates.
        if self.dataset in digits.IMAGE_DATASETS:
            low = digits.pixels(self.dataset) + 1
            if self.d < low:
                raise _error(
                    "d",
                    f"dataset {self.dataset!r} needs d >= {low} ({low - 1} pixels and a noise "
                    f"patch), got {self.d}",
                )
            if self.easy_layout != "orthogonal":
                raise _error(
                    "easy_layout",
                    f"dataset {self.dataset!r} supports only 'orthogonal' (the easy pair is two "
                    f"digit classes), got {self.easy_layout!r}",
                )
            if self.n_classes > 2:
                raise _error(
                    "n_classes",
                    f"dataset {self.dataset!r} has one binary pair per feature, so n_classes "
                    f"must be 2, got {self.n_classes}",
                )
        else:  # image pools are the real images' only
            for name, default in (("image_pool", "all"), ("images_recur", False)):
                if getattr(self, name) != default:
                    raise _error(
                        name,
                        f"applies to the real images only (dataset "
                        f"{' or '.join(map(repr, digits.IMAGE_DATASETS))}), got "
                        f"{show(getattr(self, name))} with dataset {self.dataset!r}",
                    )


@SCHEMA.config_class("train")
class TrainConfig:
    """The pipeline: weak training, pseudo-labelling, strong training, evaluation.

    `record_schedule="linear"` records every `record_every` steps; `"log"` records at
    `record_points` log-spaced steps (the early-stopping peak can come within tens of steps).
    Step 0 and step `T` are always recorded.

    `engine="gram"` trains the strong model in kernel space (w2s_jax.engines.gram) from the
    same noise draws as the direct engine; `engine="wishart"` draws its noise Gram matrix from
    its law (cost independent of `d`). The engines read the older spelling of the latter,
    `engine="gram"` with `gram_noise="wishart"`, which the config is turned into (and which is
    accepted as well); `engine="auto"` with `gram_noise="wishart"` may pick the Wishart draw.
    """

    def _check(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        if self.engine == "wishart":  # the one engine choice, in the fields the engines read
            set_("engine", "gram")
            set_("gram_noise", "wishart")
        if self.engine == "limit":  # the Gram engine's coefficients, in the d → ∞ limit
            for name in ("optimizer", "optimizer_wk"):
                if getattr(self, name) not in GRAM_OPTIMIZERS:
                    raise _error(
                        name,
                        f"engine 'limit' needs one of {GRAM_OPTIMIZERS}, "
                        f"got {getattr(self, name)!r}",
                    )
        # Adam rescales each ambient coordinate, which no finite set of coefficients tracks.
        if self.engine == "gram" and self.optimizer not in GRAM_OPTIMIZERS:
            raise _error(
                "optimizer",
                f"engine 'gram' needs one of {GRAM_OPTIMIZERS}, got {self.optimizer!r}",
            )
        if self.gram_noise == "wishart":
            if self.engine == "direct":
                raise _error("gram_noise", "'wishart' needs engine 'gram' or 'auto'")
            for name in ("optimizer", "optimizer_wk"):
                if getattr(self, name) not in GRAM_OPTIMIZERS:
                    raise _error(
                        name,
                        f"gram_noise 'wishart' needs one of {GRAM_OPTIMIZERS}, "
                        f"got {getattr(self, name)!r}",
                    )
        # eta_a = 0 freezes a trained second layer: the fixed model, as a point of an eta_a axis.
        if self.eta_a is None:
            set_("eta_a", SCHEMA.coerce("eta_a", self.eta))
        self._check_teacher(set_)

    def _check_teacher(self, set_):
        """The oracle's hard-only labels: `coin` and `rule` are the ends (0 and 1) of the
        `mix`, so `rule_share` follows them and is the one number a mixed oracle needs."""
        if self.teacher == "trained" and self.hard_labels != "coin":
            raise _error(
                "hard_labels",
                f"applies to teacher = 'oracle' only (the trained teacher labels by its own "
                f'weights), got {self.hard_labels!r}: set teacher = "oracle" or drop '
                f"hard_labels",
            )
        ends = {"coin": 0.0, "rule": 1.0}
        if self.hard_labels == "mix":
            if self.rule_share is None:
                raise _error(
                    "rule_share",
                    "hard_labels = 'mix' needs it: the share of hard-only labels that follow "
                    "the rule, in [0, 1] (0 is the coin teacher, 1 the rule teacher)",
                )
        elif self.rule_share is None:
            set_("rule_share", SCHEMA.coerce("rule_share", ends[self.hard_labels]))
        elif self.rule_share != ends[self.hard_labels]:
            raise _error(
                "rule_share",
                f"applies to hard_labels = 'mix' only, got {self.rule_share} with "
                f'hard_labels = {self.hard_labels!r}: set hard_labels = "mix" or drop '
                f"rule_share",
            )


#: Field names of each config, in schema order (the parameter columns of the result tables).
DATA_FIELDS = SCHEMA.names("data")
TRAIN_FIELDS = SCHEMA.names("train")
#: The switches (string-valued fields); every other field is a number.
STRING_FIELDS = SCHEMA.string_fields
#: Fields of Params that live in DataConfig; the rest live in TrainConfig.
DATA_PARAMS = SCHEMA.traced("data")
TRAIN_PARAMS = SCHEMA.traced("train")
#: Params leaves that are integers (int32); the rest take the run's float dtype.
INTEGER_PARAMS = SCHEMA.traced(kind=INT32)


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


Static = SCHEMA.static_class(
    __name__,
    """Everything that fixes shapes or control flow: hashable, never traced.

    Its members are the schema's static fields and the ones `static_of` derives:
    `n_max` is the padded size of the strong model's training set (n_st <= n_max is traced).
    `d` is 0 for the Wishart engine, which reads `Params.d` (a traced number) instead.
    `minibatch` is true when `batch_size > 0` (the batch size itself is traced, `Params`);
    `second_layer` is `"fixed"` or `"trained"`; `n_classes` is `K`.
    `signal_dims` is the dimension `k` of the signal span: the signal patches `x1, x2` of every
    sample lie on `e1..ek` and the noise patch is orthogonal to them (4 for the synthetic
    binary model: `mu_{+1}, mu_{-1}, nu_{+1}, nu_{-1}`; 64 pixels for `dataset = "digits"`).
    The engines rely on nothing else.
    """,
)

Params = SCHEMA.params_class(
    __name__,
    """Every number a user may sweep, as arrays (a pytree; grids vmap over its leaves).

    Its leaves are the schema's traced fields. `d` is traced only by the Wishart path (the
    other engines take it from `Static`); `batch_size` (int32) is read only when
    `Static.minibatch`; `eta_a`, the second layer's step size, only when `Static.second_layer`
    is "trained".
    """,
)


def check_compatible(data: DataConfig, train: TrainConfig) -> None:
    """Refuse switch combinations that no engine runs: K > 2 classes train in `R^d` only."""
    if data.n_classes > 2 and train.teacher != "trained":
        raise _error("teacher", f"n_classes > 2 supports only 'trained', got {train.teacher!r}")
    if data.n_classes > 2 and train.engine == "limit":
        raise _error(
            "engine",
            f"n_classes > 2 runs on the 'direct' engine only, got 'limit' with "
            f"n_classes = {data.n_classes}",
        )
    if data.n_classes > 2 and train.engine == "gram":
        raise _error(
            "engine",
            f"n_classes > 2 runs on the 'direct' engine only (or 'auto', which then "
            f"picks it), got 'gram' with n_classes = {data.n_classes}",
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
        raise _error(*problem)


def static_of(data: DataConfig, train: TrainConfig, n_max: int | None = None) -> Static:
    """The static part of a (data, train) configuration; `n_max` defaults to `n_st`."""
    check_dataset(data, train)
    n_max = train.n_st if n_max is None else n_max
    if n_max < train.n_st:
        raise ConfigError(f"n_max: must be >= n_st = {train.n_st}, got {n_max}", key="n_max")
    # The Wishart path draws the noise Gram from its law, where d is only a number (the
    # degrees of freedom): it is traced (Params.d), so cells at any d share one program.
    check_compatible(data, train)
    wishart = train.engine == "limit" or (train.engine == "gram" and train.gram_noise == "wishart")
    derived = dict(
        d=0 if wishart else data.d,
        n_max=int(n_max),
        record_steps=record_steps(train),
        minibatch=train.batch_size > 0,
        signal_dims=digits.IMAGE_DATASETS.get(data.dataset, 2 * data.n_classes),
    )
    configs = dict(data=data, train=train)  # every other member is the field of its name
    return Static(
        **{
            n: derived[n] if n in derived else getattr(configs[SCHEMA.section_of(n)], n)
            for n in Static._fields
        }
    )


def dtype_scope(dtype: str):
    """The context a run of `dtype` computes in: JAX's 64-bit mode on for `"float64"` and off
    for `"float32"`, whatever the global setting, so a float32 run computes the same numbers
    in every process. The sweep and `w2s run` enter it themselves."""
    import jax  # here, not at the top: a config is checked without loading JAX

    return jax.enable_x64(dtype == "float64")


def check_dtype_enabled(dtype: str) -> None:
    """Refuse float64 when JAX would silently compute it in float32."""
    import jax

    if dtype == "float64" and not jax.config.jax_enable_x64:
        raise _error(
            "dtype",
            "'float64' needs JAX's 64-bit mode, which is off here (JAX would compute "
            "in float32); call inside `with w2s_jax.dtype_scope('float64'):` (or "
            "`jax.enable_x64(True)`), or use `w2s run` / `w2s sweep`, which turn it on",
        )


def split(data: DataConfig, train: TrainConfig, n_max: int | None = None) -> tuple[Static, Params]:
    """Split a (data, train) configuration into the static part and the traced parameters.

    A float64 configuration is refused unless JAX's 64-bit mode is on (`dtype_scope`).
    """
    import jax.numpy as jnp

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
