"""`w2s check`: a cell whose student has not fitted its pseudo-labels by the end is flagged by
the longer-T variant, a converged cell agrees, and bad input is refused with one line."""

import pytest

from w2s_jax.analysis import check
from w2s_jax.cli.main import main
from w2s_jax.sweeping.driver import run_sweep

#: A planted study: at eta = 0.003 the student has not fitted its pseudo-labels by T = 20
#: (every seed `not_converged`) and does by 4·T; at eta = 1 it has long fitted and stays.
STUDY = dict(
    name="planted",
    seeds=3,
    data=dict(d=64, p_h=0.3),
    train=dict(
        m=4,
        n_st=40,
        n_wk=64,
        n_test=500,
        T=20,
        T_wk=0,
        record_every=5,
        teacher="oracle",
        hard_labels="rule",
    ),
    grid=dict(eta=[0.003, 1.0]),
)
SLOW, FAST = 0, 1


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    run_sweep(STUDY, root, quiet=True)
    return root


def test_longer_T_flags_the_unfitted_cell_and_keeps_the_fitted_one(study):
    table = check.run_check(study, [SLOW, FAST], ["long_T"], quiet=True).set_index("cell")
    slow, fast = table.loc[SLOW], table.loc[FAST]
    assert slow["class_original"] == "not_converged" and slow["class_variant"] != "not_converged"
    assert not slow["class_agrees"] and not slow["agrees"]
    assert fast["class_original"] == fast["class_variant"] == "harmful" and fast["agrees"]
    assert fast["tol_gain_final"] >= check.GAIN_TOL
    text = (study / "check" / "check.md").read_text()
    assert "cell 0 under `long_T` (class not_converged →" in text
    assert (study / "check" / "check.parquet").exists()
    assert (study / "check" / "check.png").stat().st_size > 10_000
    # a second call finds every variant finished with the same config and reruns nothing
    again = check.run_check(study, [SLOW, FAST], ["long_T"], quiet=True).set_index("cell")
    assert again["wall_s"].tolist() == table["wall_s"].tolist()
    assert (study / "check" / "long_T" / f"cell-{SLOW}" / "summary.parquet").exists()


def test_variant_configs_hold_what_they_promise(study):
    import pandas as pd

    summary = pd.read_parquet(study / "summary.parquet")
    cfg = {v: check.variant_config(STUDY, FAST, check.VARIANTS[v], summary) for v in check.VARIANTS}
    assert cfg["small_step"]["train"]["eta"] * cfg["small_step"]["train"]["T"] == pytest.approx(20)
    assert cfg["small_step"]["train"]["record_every"] == 20
    assert cfg["long_T"]["train"]["T"] == 80 and cfg["long_T"]["grid"] == {"eta": [1.0]}
    # 1/m output: a filter's gradient carries 1/m, so eta·4 holds the speed with 4·m filters
    assert cfg["wide"]["train"]["m"] == 16 and cfg["wide"]["train"]["eta"] == 4.0
    assert "eta" not in cfg["wide"]["grid"]
    assert cfg["small_init"]["train"]["sigma_0"] == pytest.approx(0.001)
    assert cfg["float64"]["train"]["dtype"] == "float64"
    assert cfg["rerun"]["grid"] == {"eta": [1.0]}


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--cells", "7"], "--cells: 7 not in the study"),
        (["--cells", "a,b"], "--cells: expected cell indices"),
        (["--variants", "long"], "--variants: unknown 'long'"),
        (["--cell", "eta=5"], "--cell: no cell with eta=5"),
        (["--n-cells", "0"], "--n-cells: must be an integer"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(study, capsys, argv, needle):
    assert main(["check", str(study), *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and err.count("\n") == 1


def test_no_study_is_refused(tmp_path, capsys):
    assert main(["check", str(tmp_path)]) == 2
    assert "holds no finished sweep" in capsys.readouterr().err


def test_float64_rows_are_paired_and_agree_to_rounding(study):
    """A float64 rerun sees the float32 run's draws (model.streams), so its rows are paired
    and its gains move by rounding only."""
    table = check.run_check(study, [FAST], ["float64"], quiet=True).set_index("cell")
    row = table.loc[FAST]
    assert row["paired"] and row["agrees"]
    assert abs(row["delta_gain_final"]) < 1e-3 and row["paired_se_gain_final"] < 1e-3
