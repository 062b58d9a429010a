"""The engines (direct in R^d, Gram in kernel space, the Wishart draw and its d → ∞ limit,
K classes), each an `Engine` of three pure functions, their cost model, and the pure `run`
that picks one from the `ENGINES` registry (docs/engines.md)."""
