"""The facts of the generated pages beyond the planes and the main job: one module per page
(`facts(draw) -> (facts, missing)`), collected by `scripts/figures.py`."""
