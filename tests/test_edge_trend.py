"""The lower edge's line through traced crossings, and its trend with n_st."""

import numpy as np
import pandas as pd
import pytest

from w2s_jax.analysis.edge_trend import crossing_taus, edge_line, trend

P_B = 0.4
SNR = np.array([0.3, 0.53, 0.95, 1.7, 3.0, 9.5])


def _trace(tau_of_column):
    crossing = tau_of_column / (P_B**2 * SNR**2)
    return pd.DataFrame(
        dict(
            n_st=300,
            n_st_snr=SNR,
            status=["crossed"] * 5 + ["no crossing: upper side at every starting value"],
            crossing=crossing,
            ci_lo=crossing / 1.2,
            ci_hi=crossing * 1.2,
        )
    )


def test_an_iso_tau_edge_has_slope_minus_two_and_its_tau():
    crossed = crossing_taus(_trace(np.full(len(SNR), 8.0)), P_B)
    assert len(crossed) == 5  # the column without a crossing is left out
    np.testing.assert_allclose(crossed.tau, 8.0)
    line = edge_line(crossed)
    assert line["slope"] == pytest.approx(-2.0) and line["C"] == pytest.approx(8.0)
    assert line["slope_lo"] == pytest.approx(-2.0) and line["C_hi"] == pytest.approx(8.0)


def test_a_shallower_edge_has_its_own_slope_and_a_spread_of_tau():
    # tau grows as the columns' n_st·snr falls: d/n_st ∝ (n_st·snr)^-1, slope -1
    crossed = crossing_taus(_trace(8.0 * SNR / SNR[2]), P_B)
    line = edge_line(crossed)
    assert line["slope"] == pytest.approx(-1.0)
    assert line["C_lo"] < line["C"] < line["C_hi"]


def test_the_trend_of_the_slope_with_n_st():
    lines = pd.DataFrame(
        dict(n_st=[300, 1000, 3000], slope=[-0.8, -1.2, -1.6], slope_lo=[-1.0, -1.4, -1.8])
    ).assign(slope_hi=lambda f: 2 * f.slope - f.slope_lo)
    got = trend(lines)
    per_decade = np.polyfit(np.log10([300, 1000, 3000]), [-0.8, -1.2, -1.6], 1)[0]
    assert got["per_decade"] == pytest.approx(per_decade)
    # the slopes' own errors (interval half-width / 1.96) carried to the trend
    x = np.log10([300, 1000, 3000])
    assert got["per_decade_se"] == pytest.approx(0.2 / 1.96 / np.sqrt(np.sum((x - x.mean()) ** 2)))
    assert np.log10(got["reaches_at"]) == pytest.approx(
        np.log10(3000) + 0.4 / -per_decade, rel=0.02
    )
    two = trend(lines.iloc[:2])
    assert np.isnan(two["per_decade_se"]) and two["points"] == 2
