"""Requested theory coordinates are stored as requested, so that filtering the tables on the
value a config gave finds every cell of it (recomputed from the resolved raw fields, 0.3 came
back as 0.29999999999999993 or 0.30000000000000004 depending on the cell)."""

import pytest

from w2s_jax.sweeping.driver import run_sweep

CONFIG = dict(
    name="coordinates",
    seeds=1,
    data=dict(tau=0.5),
    train=dict(
        m=4, n_wk=32, n_test=32, T=4, T_wk=4, record_every=2, engine="gram", gram_noise="wishart"
    ),
    grid=dict(n_st_snr=[0.3, 0.7, 1.1], n_st=[30, 50, 70]),
)


@pytest.mark.slow
def test_requested_coordinates_come_back_exactly():
    result = run_sweep(CONFIG, quiet=True, devices=1)
    for table in (result.summary, result.trajectories):
        for value in CONFIG["grid"]["n_st_snr"]:
            assert (table.n_st_snr == value).sum() == 3 * (1 if table is result.summary else 3)
        assert (table.tau == 0.5).all()
    # the resolved raw fields are beside them; with d rounded to an integer they give the
    # requested n_st·snr back to a relative O(1/d)
    s = result.summary
    snr = s.nu_norm**2 / (s.sigma_p**2 * s.d)
    assert ((snr * s.n_st / s.n_st_snr - 1).abs() < 1 / s.d).all()
