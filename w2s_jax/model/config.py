"""Configuration: the data model, the training pipeline, and their split into a static,
hashable part (shapes, step counts, switches) and a traced pytree of numbers that grids vmap
over (STYLE: "static config, traced parameters").

Every field is declared once, in `model.schema`: its type and range, default and section, and
whether `Static` or `Params` carries it. The dataclasses, `Static`, `Params` and the field
lists below are derived from it; this module adds the rules across fields.
"""

from __future__ import annotations

import numpy as np

from w2s_jax.model import digit_images
from w2s_jax.model.engine_traits import (
    AUTO,
    GRAM_NOISE,
    LAW,
    NOISE_WORDS,
    SAMPLED,
    TRAITS,
    Asked,
    EngineTraits,
    auto_candidates,
    auto_choices,
    resolve,
    traced_d,
)
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
    "check_runs",
    "engine_named",
    "asked_of",
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


def _error(key: str, text: str) -> ConfigError:
    return SCHEMA.error(key, text)


def _refuse(refusal: tuple[str, str] | None) -> None:
    if refusal is not None:
        raise _error(*refusal)


def _family(traits: EngineTraits) -> tuple[EngineTraits, ...]:
    """An engine and the engines its name also reaches (`EngineTraits.form_of`)."""
    return (traits, *(t for t in TRAITS.values() if t.form_of == traits.name))


def _spelling(noise: str) -> str | None:
    """`gram_noise`'s spelling of a noise (None: the limit's, which has none)."""
    return next((k for k, v in GRAM_NOISE.items() if v == noise), None)


def _either(names) -> str:
    names = [repr(n) for n in names]
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]


def _in_law_refusal(traits: EngineTraits, asked: Asked) -> ConfigError:
    key, why = traits.refusal(asked)
    return _error(
        key,
        f"{why} (gram_noise = 'wishart' lets engine {AUTO!r} pick it): drop gram_noise or "
        f"change {key}",
    )


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
            digit_images.parse_digit_classes(self.digit_classes)
        except ValueError as err:
            raise _error("digit_classes", str(err)) from None
        # Real images: the pixels on e1..e_k, noise on the other d - k coordinates.
        if self.dataset in digit_images.IMAGE_DATASETS:
            low = digit_images.pixels(self.dataset) + 1
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
                        f"{' or '.join(map(repr, digit_images.IMAGE_DATASETS))}), got "
                        f"{show(getattr(self, name))} with dataset {self.dataset!r}",
                    )


@SCHEMA.config_class("train")
class TrainConfig:
    """The pipeline: weak training, pseudo-labelling, strong training, evaluation.

    `record_schedule="linear"` records every `record_every` steps; `"log"` records at
    `record_points` log-spaced steps (the early-stopping peak can come within tens of steps).
    Step 0 and step `T` are always recorded.

    `engine` names an engine of `model.engine_traits` (or `"auto"`); what it cannot run
    exactly (an update rule, a teacher) is refused here, and the classes and data source in
    `check_compatible`. `gram_noise` is an input spelling only: with `engine="gram"`,
    `"wishart"` is `engine="wishart"`; with `engine="auto"`, `"wishart"` lets it pick an engine
    exact in law. Unset, it is the named engine's own noise (None where it has no spelling,
    the limit); where it does not apply it is refused.
    """

    def _check(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        self._check_engine(set_)
        # eta_a = 0 freezes a trained second layer: the fixed model, as a point of an eta_a axis.
        if self.eta_a is None:
            set_("eta_a", SCHEMA.coerce("eta_a", self.eta))
        self._check_teacher(set_)

    def _check_engine(self, set_):
        """`gram_noise` against `engine`, and the update rules and teacher of the engine the
        config names (its K-class form is checked with the data, `check_compatible`)."""
        asked = Asked(self.optimizer, self.optimizer_wk, self.teacher)
        if self.engine == AUTO:
            set_("gram_noise", self.gram_noise or _spelling(SAMPLED))
            if GRAM_NOISE[self.gram_noise] == LAW:
                in_law = [t for t in TRAITS.values() if t.noise == LAW]
                if all(t.refusal(asked) for t in in_law):
                    raise _in_law_refusal(in_law[0], asked)
            return
        own = TRAITS[self.engine]
        noise = own.noise if self.gram_noise is None else GRAM_NOISE[self.gram_noise]
        named = [t for t in _family(own) if t.noise == noise]
        if not named:
            others = [n for n, t in TRAITS.items() if any(f.noise == noise for f in _family(t))]
            raise _error(
                "gram_noise",
                f"{self.gram_noise!r} does not apply to engine {self.engine!r} (its noise is "
                f"{NOISE_WORDS[own.noise]}): drop gram_noise, or for noise "
                f"{NOISE_WORDS[noise]} use engine {_either([*others, AUTO])}",
            )
        set_("gram_noise", _spelling(named[0].noise))
        _refuse(named[0].refusal(asked))

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
    `engine` is the engine that runs (a key of `engines.run.ENGINES`: `engine_named`), or
    `"auto"`, which picks by flops at the tier's `n_max` (`engines.cost.engine_used`), among
    the engines exact in law too where `auto_in_law`.
    `n_max` is the padded size of the strong model's training set (n_st <= n_max is traced).
    `d` is 0 for an engine that traces it (`EngineTraits.d_traced`: the Wishart engine and its
    limit), which reads `Params.d` (a traced number) instead.
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

    Its leaves are the schema's traced fields. `d` is read only by the engines that trace it
    (the others take it from `Static`); `batch_size` (int32) is read only when
    `Static.minibatch`; `eta_a`, the second layer's step size, only when `Static.second_layer`
    is "trained".
    """,
)


def asked_of(static: Static) -> Asked:
    """What a run's `Static` asks of its engine."""
    images = static.dataset in digit_images.IMAGE_DATASETS
    return Asked(static.optimizer, static.optimizer_wk, static.teacher, static.n_classes, images)


def check_runs(traits: EngineTraits, static: Static) -> None:
    """Refuse a run that the engine of `traits` cannot run exactly (`engines.run.run_engine`
    asks before tracing: a `Static` made by hand, or an engine given by hand)."""
    _refuse(traits.refusal(asked_of(static)))


def engine_named(data: DataConfig, train: TrainConfig) -> str:
    """The engine a configuration runs on (`Static.engine`): a registry name, or `"auto"`,
    which picks among `engine_traits.auto_choices` by flops once the tier's `n_max` is known
    (`engines.cost.engine_used`). Refuses what that engine cannot run, naming the key."""
    images = data.dataset in digit_images.IMAGE_DATASETS
    asked = Asked(train.optimizer, train.optimizer_wk, train.teacher, data.n_classes, images)
    if train.engine == AUTO:
        in_law = GRAM_NOISE[train.gram_noise] == LAW
        candidates = auto_candidates(data.n_classes, images, in_law)
        choices = auto_choices(asked, in_law)
        if not choices:  # what the first candidate refuses (none: the classes or the data)
            _refuse(TRAITS[candidates[0]].refusal(asked) if candidates else None)
            raise _error("engine", f"{AUTO!r} finds no engine for this config")
        if in_law and not any(TRAITS[n].noise == LAW for n in choices):
            in_law_ones = [n for n in candidates if TRAITS[n].noise == LAW]
            if in_law_ones:
                raise _in_law_refusal(TRAITS[in_law_ones[0]], asked)
            where = f"n_classes = {data.n_classes}" if data.n_classes > 2 else "the real images"
            raise _error(
                "gram_noise",
                f"'wishart' lets engine {AUTO!r} pick an engine exact in law, and none runs "
                f"{where} ({AUTO!r} picks among {_either(choices)}): drop gram_noise",
            )
        return AUTO
    own = TRAITS[train.engine].noise  # unset gram_noise: the limit's, which has no spelling
    noise = own if train.gram_noise is None else GRAM_NOISE[train.gram_noise]
    name = resolve(train.engine, noise, data.n_classes)
    if name is None:  # no form of it takes these classes
        _refuse(TRAITS[train.engine].refusal(asked))
    _refuse(TRAITS[name].refusal(asked))
    return name


def check_compatible(data: DataConfig, train: TrainConfig) -> None:
    """Refuse what the engine the config names cannot run: `engine_named`."""
    engine_named(data, train)


def check_dataset(data: DataConfig, train: TrainConfig) -> None:
    """What a data source asks of the pipeline: the real images hold a finite number of
    images, shared out into one pool per role (`model.digit_images.role_pools`). Every engine
    runs them: their signal patches lie on `e1..ek` (the pixels) and their noise is isotropic
    on the other coordinates, which is all the Gram engine uses; `engine = "auto"` trains
    them directly."""
    if data.dataset not in digit_images.IMAGE_DATASETS:
        return
    problem = digit_images.pool_problem(
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
    engine = engine_named(data, train)
    # An engine that draws the noise Gram from its law reads d only as a number (the degrees
    # of freedom): it is traced (Params.d), so cells at any d share one program.
    derived = dict(
        engine=engine,
        auto_in_law=engine == AUTO and GRAM_NOISE[train.gram_noise] == LAW,
        d=0 if traced_d(engine) else data.d,
        n_max=int(n_max),
        record_steps=record_steps(train),
        minibatch=train.batch_size > 0,
        signal_dims=digit_images.IMAGE_DATASETS.get(data.dataset, 2 * data.n_classes),
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
