"""What each engine is, apart from its code: the configs it runs exactly and what a run costs.

An engine is described by what it is, the way optax describes a transform (STYLE): one
`EngineTraits` per engine in `TRAITS` (the registry's order, `engines.run.ENGINES`), and every
engine's `ENGINE` carries its own (`training.interface.Engine.traits`). The config's checks
(`model.config`), the choice of `engine = "auto"` and the cost model (`engines.cost`) and the
memory refusal (`sweeping.memory`) read them, so no other module spells an engine's name.

The module is plain Python: a config is checked before JAX is imported, and it sits in the
`model` layer, below the engines, because the config's checks read it. Flops and bytes take a
`Static` (`model.config`; any object with its members) and count what one run computes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "AUTO",
    "SAMPLED",
    "LAW",
    "LIMIT",
    "NOISE_WORDS",
    "GRAM_NOISE",
    "LINEAR_RULES",
    "Asked",
    "EngineTraits",
    "TRAITS",
    "resolve",
    "auto_candidates",
    "auto_choices",
    "traced_d",
    "staircase_flops",
    "docs_table",
    "write_docs",
]

#: The `engine` that names no engine: the cheapest of those that run a config exactly.
AUTO = "auto"
#: Where an engine's noise comes from (`EngineTraits.noise`): sampled in `R^d` (the direct
#: engine's draws), drawn as inner products from their law (`d` is a number), or the `d → ∞`
#: limit of that law.
SAMPLED, LAW, LIMIT = "sampled", "law", "limit"
#: Each noise, in words (the messages).
NOISE_WORDS = {SAMPLED: "sampled in R^d", LAW: "drawn from its law", LIMIT: "the d → ∞ limit"}
#: The spellings of `gram_noise`, an input only: with `engine = "gram"` it picks the noise,
#: with `engine = "auto"` "wishart" lets it pick an engine exact in law.
GRAM_NOISE = {"sampled": SAMPLED, "wishart": LAW}
#: Update rules linear in the gradient: a change of coordinates commutes with them, so the
#: kernel-space engines follow them exactly (Adam rescales each ambient coordinate).
LINEAR_RULES = ("sgd", "momentum")
#: Rows per block of the Wishart engine's staircase products (`engines.triangular`).
GRAM_BLOCK = 2048
_ITEMSIZE = {"float32": 4, "float64": 8}


class Asked(NamedTuple):
    """What a config asks of an engine; None where it is not known yet (a `TrainConfig` alone
    knows neither the classes nor the data source)."""

    optimizer: str
    optimizer_wk: str
    teacher: str
    n_classes: int | None = None
    images: bool | None = None


@dataclasses.dataclass(frozen=True)
class EngineTraits:
    """One engine: what it runs exactly and what a run costs.

    Attributes:
        name: its `engine` value, registry key and module (`engines/<name>.py`).
        summary: what it is, in a line (the docs' table).
        noise: `SAMPLED`, `LAW` or `LIMIT`: where its noise comes from. An engine on sampled
            noise reproduces the direct engine's draws; one on drawn noise traces `d`.
        flops: `(static) -> float`, the analytic flops of one run (multiply-add = 2).
        work: `(static) -> (flops, power)`: a run costs about `flops · n_max^power` in strong
            training (tier planning weighs padding against compiles with it).
        bytes: `(static) -> int`, a shape-based upper estimate of one run's device memory.
        optimizers, optimizers_wk: the student's and the weak model's update rules it follows
            exactly (None: every rule).
        max_classes: the most classes `K` it runs (None: any).
        images: whether it runs the real images; `auto_images`: whether `engine = "auto"`
            picks it for them (it trains them directly).
        teachers: the teachers it runs (None: every one).
        form_of: the engine whose name also reaches this one: a config that names `form_of`
            runs this engine where its noise (`gram_noise`) or classes ask for it.
    """

    name: str
    summary: str
    noise: str
    flops: Callable[[Any], float]
    work: Callable[[Any], tuple[float, int]]
    bytes: Callable[[Any], int]
    optimizers: tuple[str, ...] | None = None
    optimizers_wk: tuple[str, ...] | None = None
    max_classes: int | None = 2
    images: bool = True
    auto_images: bool = True
    teachers: tuple[str, ...] | None = None
    form_of: str | None = None

    @property
    def d_traced(self) -> bool:
        """`d` is only a number here (the degrees of freedom of the drawn noise): a `Params`
        leaf, 0 in `Static`, so cells at any `d` share one program."""
        return self.noise != SAMPLED

    def takes_classes(self, n_classes: int) -> bool:
        return self.max_classes is None or n_classes <= self.max_classes

    def refusal(self, asked: Asked) -> tuple[str, str] | None:
        """`(key, why)` for the first key of `asked` this engine cannot run exactly; None if
        it runs them all (keys not known yet pass)."""
        rules = (("optimizer", self.optimizers), ("optimizer_wk", self.optimizers_wk))
        for key, allowed in rules:
            value = getattr(asked, key)
            if allowed is not None and value not in allowed:
                return key, f"engine {self.name!r} needs one of {allowed}, got {value!r}"
        if self.teachers is not None and asked.teacher not in self.teachers:
            allowed = " or ".join(map(repr, self.teachers))
            return "teacher", f"engine {self.name!r} supports only {allowed}, got {asked.teacher!r}"
        if asked.n_classes is not None and not self.takes_classes(asked.n_classes):
            return "engine", (
                f"{self.name!r} runs n_classes = {self.max_classes} only, got n_classes = "
                f"{asked.n_classes}; {_reaching(asked.n_classes)} run it"
            )
        if asked.images and not self.images:
            return "engine", f"{self.name!r} runs the synthetic data only, not the real images"
        return None


def _reaching(n_classes: int) -> str:
    """The `engine` values whose engine runs `n_classes` classes, as a phrase."""
    names = [n for n, t in TRAITS.items() if resolve(n, t.noise, n_classes) is not None]
    return "engine " + ", ".join(repr(n) for n in names) + f" or {AUTO!r}"


def resolve(name: str, noise: str, n_classes: int) -> str | None:
    """The engine that runs a config naming `name`: the first of it and its forms
    (`form_of`) on `noise` that takes `n_classes`; None if none does."""
    family = [TRAITS[name]] + [t for t in TRAITS.values() if t.form_of == name]
    for traits in family:
        if traits.noise == noise and traits.takes_classes(n_classes):
            return traits.name
    return None


def auto_candidates(n_classes: int, images: bool, in_law: bool) -> tuple[str, ...]:
    """The engines `engine = "auto"` weighs, before the update rules and the teacher: every
    engine that no other's name reaches, resolved on sampled noise (the direct engine's
    draws) and, where `in_law`, on noise drawn from its law; never the limit."""
    found: list[str] = []
    for base in TRAITS.values():
        if base.form_of is not None:
            continue
        for noise in (SAMPLED, LAW) if in_law else (SAMPLED,):
            name = resolve(base.name, noise, n_classes)
            if name is not None and name not in found and (not images or TRAITS[name].auto_images):
                found.append(name)
    return tuple(found)


def auto_choices(asked: Asked, in_law: bool) -> tuple[str, ...]:
    """The engines `engine = "auto"` picks the cheapest of: its candidates that run `asked`."""
    candidates = auto_candidates(asked.n_classes, asked.images, in_law)
    return tuple(n for n in candidates if TRAITS[n].refusal(asked) is None)


def traced_d(engine: str) -> bool:
    """Whether a run of `engine` (a registry name, or `AUTO`) traces `d` (`Params.d`)."""
    return engine in TRAITS and TRAITS[engine].d_traced


# --- flops -----------------------------------------------------------------------------------
# Matrix products only (sampling, ReLUs and the loss are O(n·m) or O(n·d) a step).


def _weak_sampled(s) -> float:
    """The weak model trained in `R^d` and its logits of the other two sets."""
    d, n, nt = s.d, s.n_max, s.n_test
    return 2.0 * 2 * s.n_wk * d * s.T_wk + 2.0 * 3 * (n + nt) * d


def _direct_flops(s) -> float:
    d, m, n, nt = s.d, s.m, s.n_max, s.n_test
    k, R = s.signal_dims, len(s.record_steps)
    # Only the noise patch meets all d coordinates (ReLUCNN.split_patch_logits).
    steps = (
        s.T * 2 * 2 * (2 * m) * n * (d + 2 * k)  # forward + backward
        + R * 2 * (2 * m) * ((n + nt) + n + 4) * d  # logits, rho, gamma
    )
    return _weak_sampled(s) + steps


def _gram_steps(s) -> int:
    m, n, nt, R = s.m, s.n_max, s.n_test, len(s.record_steps)
    return (
        s.T * 2 * (2 * m) * n * n  # Cᵀ G, carried to the next step and the record point
        + R * 2 * (2 * m) * n * nt  # test logits
    )


def _gram_flops(s) -> float:
    d, m, n, nt = s.d, s.m, s.n_max, s.n_test
    sampled_setup = 2.0 * (n * (n + nt) + 2 * m * (n + nt)) * d
    return _weak_sampled(s) + sampled_setup + _gram_steps(s)


def staircase_flops(
    n: int, width: int, lead: int, k: int, block: int = GRAM_BLOCK
) -> tuple[float, float]:
    """Flops of `engines.triangular.staircase_gram` and of `staircase_cross` against `k` rows,
    by row blocks of `block`."""
    if n <= block:
        return 2.0 * n * n * width, 2.0 * n * k * width
    spans = [(start, min(start + block, n)) for start in range(0, n, block)]
    gram = cross_ = 0.0
    for bi, (a, b) in enumerate(spans):
        cross_ += 2.0 * (b - a) * k * min(lead + b, width)
        for c, e in spans[: bi + 1]:
            gram += 2.0 * (b - a) * (e - c) * min(lead + e, width)
    return gram, cross_


def _wishart_flops(s) -> float:
    """Independent of `d` (0 in a Wishart run's `Static`)."""
    m, n, nt, n_wk, k = s.m, s.n_max, s.n_test, s.n_wk, s.signal_dims
    n0 = n_wk + n  # the Bartlett factor's side (engines.wishart)
    setup = (
        sum(staircase_flops(n, n0, n_wk, nt))  # train and train x test Gram blocks
        + 2.0 * 2 * m * (n + nt) * n0  # filters x (train, test)
        + 2.0 * 2 * n_wk * (n_wk + k) * s.T_wk  # weak training in span coordinates
        + 2.0 * (n + nt) * n_wk  # weak logits
    )
    return setup + _gram_steps(s)


def _limit_flops(s) -> float:
    """Orthogonal noise: the Gram is diagonal, a step is O(m·n) (engines.limit)."""
    m, n, nt, k, R = s.m, s.n_max, s.n_test, s.signal_dims, len(s.record_steps)
    return 2.0 * 2 * s.n_wk * (s.n_wk + k) * s.T_wk + (s.T + R) * 2 * 2 * (2 * m) * (n + nt) * (
        2 * k + 1
    )


# --- work per padded sample --------------------------------------------------------------------


def _ambient_work(s) -> tuple[float, int]:
    """Forward and backward through `2m` filters on the `d`-dimensional noise patch: linear
    in the padded `n_max`."""
    return 2.0 * 2 * 2 * s.m * s.d * max(s.T, 1), 1


def _kernel_work(s) -> tuple[float, int]:
    """`C @ G`: quadratic in the padded `n_max`."""
    return 2.0 * 2 * s.m * max(s.T, 1), 2


def _limit_work(s) -> tuple[float, int]:
    """A diagonal Gram: linear in `n_max` as well."""
    return 2.0 * 2 * 2 * s.m * (2 * s.signal_dims + 1) * max(s.T, 1), 1


# --- bytes -------------------------------------------------------------------------------------


def _run_bytes(s, *, kernel: bool, ambient: bool) -> int:
    """The three samples `(n, 3, d)` (`(n, 3, k)` without `ambient`), the strong model's
    activations and gradients and the `(K, m, n_max)` noise projections; with `kernel` its
    `n_max × (n_max + n_test)` Gram blocks, and without `ambient` the Bartlett factor instead
    of any `d`-sized array; doubled for XLA temporaries."""
    d, m, n, nt, K = s.d, s.m, s.n_max, s.n_test, s.n_classes  # m filters per class
    n_all = s.n_wk + n + nt
    data = 2 * n_all * 3 * (d if ambient else s.signal_dims)  # patches, noise draws
    activations = 4 * (n + nt) * 3 * K * m
    weights = (8 * K * m * d if ambient else 0) + 2 * K * m * n
    gram = 2 * n * (n + nt + 2 * m) if kernel else 0
    if not ambient:
        n1 = s.n_wk + n + 2 * m
        gram += n1 * n1 + nt * n1
    itemsize = _ITEMSIZE[s.dtype]
    return 2 * itemsize * (data + activations + weights + gram) + 64 * len(s.record_steps)


def _ambient_bytes(s) -> int:
    return _run_bytes(s, kernel=False, ambient=True)


def _sampled_gram_bytes(s) -> int:
    return _run_bytes(s, kernel=True, ambient=True)


def _drawn_gram_bytes(s) -> int:
    return _run_bytes(s, kernel=True, ambient=False)


# --- the table ---------------------------------------------------------------------------------

#: Every engine, in the registry's order (`auto` breaks a tie in flops by it).
TRAITS: dict[str, EngineTraits] = {
    t.name: t
    for t in (
        EngineTraits(
            "direct",
            "the model as written: the sets in `R^d`, the student trained by `jax.grad`",
            SAMPLED,
            _direct_flops,
            _ambient_work,
            _ambient_bytes,
        ),
        EngineTraits(
            "gram",
            "the direct engine's draws, the student trained in kernel space",
            SAMPLED,
            _gram_flops,
            _kernel_work,
            _sampled_gram_bytes,
            optimizers=LINEAR_RULES,
            auto_images=False,
        ),
        EngineTraits(
            "wishart",
            "the Gram engine on noise inner products drawn from their law (no `d`-sized array)",
            LAW,
            _wishart_flops,
            _kernel_work,
            _drawn_gram_bytes,
            optimizers=LINEAR_RULES,
            optimizers_wk=LINEAR_RULES,
            auto_images=False,
            form_of="gram",
        ),
        EngineTraits(
            "limit",
            "the Wishart engine's `d → ∞` limit: orthogonal noise of one norm",
            LIMIT,
            _limit_flops,
            _limit_work,
            _drawn_gram_bytes,
            optimizers=LINEAR_RULES,
            optimizers_wk=LINEAR_RULES,
            auto_images=False,
        ),
        EngineTraits(
            "multiclass",
            "K classes in `R^d` (softmax cross-entropy); its cost counted as the direct engine's",
            SAMPLED,
            _direct_flops,
            _ambient_work,
            _ambient_bytes,
            max_classes=None,
            images=False,
            teachers=("trained",),
            form_of="direct",
        ),
    )
}


def _rules(rules: tuple[str, ...] | None) -> str:
    return "every" if rules is None else ", ".join(f"`{r}`" for r in rules)


def _reached(t: EngineTraits) -> str:
    """How a config that names another engine reaches `t` (`form_of`), for the docs."""
    if t.form_of is None:
        return ""
    base = TRAITS[t.form_of]
    asks = []
    if t.noise != base.noise:
        spelling = next(k for k, v in GRAM_NOISE.items() if v == t.noise)
        asks.append(f'`gram_noise = "{spelling}"`')
    if t.max_classes != base.max_classes:
        asks.append(f"`n_classes > {base.max_classes}`")
    return f', or `"{t.form_of}"` with ' + " and ".join(asks)


def docs_table() -> str:
    """The engines as a markdown table (`docs/architecture.md#engines`)."""
    lines = [
        "| `engine` | module | noise | update rules (student; weak) | `d` | classes | real "
        "images | teacher | what it is |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in TRAITS.values():
        images = ("yes" if t.auto_images else "when named") if t.images else "no"
        cells = (
            f"`{t.name}`{_reached(t)}",
            f"`engines/{t.name}.py`",
            NOISE_WORDS[t.noise],
            f"{_rules(t.optimizers)}; {_rules(t.optimizers_wk)}",
            "traced" if t.d_traced else "static",
            "any" if t.max_classes is None else str(t.max_classes),
            images,
            "every" if t.teachers is None else ", ".join(f"`{x}`" for x in t.teachers),
            t.summary,
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
_BEGIN = "<!-- engines: generated from w2s_jax/model/engine_traits.py; do not edit -->\n"
_END = "<!-- end of engines -->\n"


def docs_section(text: str) -> str:
    """The generated table of `docs/architecture.md`'s text (between its markers)."""
    return text[text.index(_BEGIN) + len(_BEGIN) : text.index(_END)]


def write_docs(path: Path = ARCHITECTURE) -> Path:
    """Rewrite the table of the engines in `docs/architecture.md#engines` (`docs_table`)."""
    text = path.read_text()
    start, end = text.index(_BEGIN) + len(_BEGIN), text.index(_END)
    path.write_text(text[:start] + docs_table() + text[end:])
    return path
