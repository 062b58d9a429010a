"""Result tables written before a field existed read as if it had its value then."""

import numpy as np
import pandas as pd

from w2s_jax.sweeping.results import with_field_defaults


def test_rule_share_follows_hard_labels_where_a_run_predates_it():
    old = pd.DataFrame(dict(hard_labels=["coin", "rule", "coin"], seed=[0, 1, 2]))
    assert list(with_field_defaults(old).rule_share) == [0.0, 1.0, 0.0]
    # a study resumed across the field's arrival: some runs have it, some do not
    mixed = old.assign(rule_share=[np.nan, np.nan, 0.0], hard_labels=["coin", "rule", "mix"])
    mixed.loc[2, "rule_share"] = 0.25
    got = with_field_defaults(mixed).rule_share
    assert list(got) == [0.0, 1.0, 0.25]


def test_a_field_a_study_predates_reads_as_its_default():
    table = with_field_defaults(pd.DataFrame(dict(seed=[0])))
    assert table.loc[0, "teacher"] == "trained" and table.loc[0, "rule_share"] == 0.0
