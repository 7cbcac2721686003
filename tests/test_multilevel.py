"""The multi-level solver (`core.multilevel`: `solver.solve` and its parts): the seed's worked chain,
hand-solved textbook cases for reciprocal / step-down / direct / iterative, input validation,
closed cycles, conditioning warnings, cent-exact rounding and origin tracing checked against a
dense reference solve. Pure functions on literal frames: no files, no CLI (see
test_multilevel_cli.py), no Dagster, no warehouse, no timing (see docs/BENCHMARKS.md).
"""

from __future__ import annotations

import warnings
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from allocation_pipeline.core.money import largest_remainder
from allocation_pipeline.core.multilevel import factorize, rounding
from allocation_pipeline.core.multilevel.records import ClosedCycleError, MultilevelError, MultilevelWarning
from allocation_pipeline.core.multilevel.solver import solve


def frame(rows):
    return pd.DataFrame(rows, columns=["source", "target", "percent"])


def origins_of(result, cost_center):
    part = result.by_origin[result.by_origin["cost_center"] == cost_center]
    return dict(zip(part["origin"], part["amount"]))


# --- the seed's chain (seed 002) ---------------------------------------------------------------------

SEED_MATRIX = frame(
    [
        ("CC1", "CC1", 50),
        ("CC1", "CC5", 10),
        ("CC1", "CC21", 40),
        ("CC5", "CC10", 100),
        ("CC10", "CC11", 100),
        ("CC11", "CC11", 50),
        ("CC11", "CC12", 50),
        ("CC12", "CC12", 50),
        ("CC12", "CC19", 50),
        ("CC9", "CC12", 100),
    ]
)
SEED_COSTS = pd.Series({"CC1": 1_000_000, "CC5": 800_000, "CC10": 900_000, "CC11": 650_000, "CC12": 1_200_000})


@pytest.mark.parametrize("method", ["reciprocal", "iterative", "step-down"])
def test_seed_chain_cc11_final_and_origins(method):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MultilevelWarning)  # CC9 has no cost here: warned, expected
        result = solve(SEED_COSTS, SEED_MATRIX, method=method)
    assert result.final["CC11"] == 1_225_000
    assert origins_of(result, "CC11") == {"CC11": 325_000, "CC10": 450_000, "CC5": 400_000, "CC1": 50_000}
    assert result.total["CC11"] == 2_450_000  # the seed's "650k + 1800k"
    assert result.final["CC1"] == 500_000 and result.final["CC21"] == 400_000
    assert result.final["CC5"] == 0 and result.final["CC10"] == 0
    assert result.final_cents.sum() == result.own_cents.sum() == 455_000_000


def test_seed_chain_cc12_with_cc9_cost_matches_seed():
    # The seed's CC12: 1,200k own + 1,641k from CC9 + 1,225k from CC11 = 4,066k; keeps 50% = 2,033k.
    costs = pd.concat([SEED_COSTS, pd.Series({"CC9": 1_641_000})])
    result = solve(costs, SEED_MATRIX)
    assert result.total["CC12"] == 4_066_000
    assert result.final["CC12"] == 2_033_000
    assert origins_of(result, "CC12") == {
        "CC12": 600_000, "CC9": 820_500, "CC11": 162_500, "CC10": 225_000, "CC5": 200_000, "CC1": 25_000,
    }
    assert result.warnings == ()


def test_seed_iterations_trace_matches_the_seed_drill_down():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MultilevelWarning)
        result = solve(SEED_COSTS, SEED_MATRIX, method="iterative")
    cc11 = result.iterations[result.iterations["cost_center"] == "CC11"]
    # Seed: iteration 1 receives 900k, iteration 2 1700k, iteration 3 1800k (cumulative).
    assert cc11["iteration"].tolist() == [1, 2, 3]
    assert cc11["received"].tolist() == [900_000, 800_000, 100_000]
    assert cc11["cumulative"].tolist() == [900_000, 1_700_000, 1_800_000]
    cc12 = result.iterations[result.iterations["cost_center"] == "CC12"]
    assert cc12["cumulative"].iloc[-1] == 1_225_000  # "in iteration 4, CC12 received 1224k from CC11"
    assert result.iteration_count == 5 and result.converged


# --- textbook: two support, two operating departments that serve each other -----------------------
#
# S1 own 60,000: 20% to S2, 50% to O1, 30% to O2.  S2 own 40,000: 10% to S1, 30% to O1, 60% to O2.
# O1 own 100,000, O2 own 200,000.
# Reciprocal: T1 = 60,000 + 0.1 T2, T2 = 40,000 + 0.2 T1 -> T1 = 3,200,000/49, T2 = 2,600,000/49;
#   O1 = 100,000 + (0.5 * 3.2M + 0.3 * 2.6M)/49 = 100,000 + 2,380,000/49 = 148,571.43
#   O2 = 200,000 + (0.3 * 3.2M + 0.6 * 2.6M)/49 = 200,000 + 2,520,000/49 = 251,428.57
# Step-down S1 first: S1 60,000 -> S2 12,000, O1 30,000, O2 18,000; S2 52,000 over O1/O2 (30:60)
#   -> O1 17,333.33, O2 34,666.67: O1 147,333.33, O2 252,666.67.
# Step-down S2 first: S2 40,000 -> S1 4,000, O1 12,000, O2 24,000; S1 64,000 over O1/O2 (50:30)
#   -> O1 40,000, O2 24,000: O1 152,000, O2 248,000.
# Direct: S1 over O1/O2 (50:30) -> 37,500 / 22,500; S2 over O1/O2 (30:60) -> 13,333.33 / 26,666.67:
#   O1 150,833.33, O2 249,166.67.

TEXTBOOK = frame(
    [("S1", "S2", 20), ("S1", "O1", 50), ("S1", "O2", 30), ("S2", "S1", 10), ("S2", "O1", 30), ("S2", "O2", 60)]
)
TEXTBOOK_COSTS = pd.Series({"S1": 60_000, "S2": 40_000, "O1": 100_000, "O2": 200_000})


@pytest.mark.parametrize(
    "method, order, o1, o2",
    [
        ("reciprocal", None, 148_571.43, 251_428.57),
        ("step-down", None, 147_333.33, 252_666.67),  # default: S1 gives the larger share to S2
        ("step-down", ["S1", "S2"], 147_333.33, 252_666.67),
        ("step-down", ["S2"], 152_000.00, 248_000.00),
        ("step-down", "S2,S1", 152_000.00, 248_000.00),
        ("direct", None, 150_833.33, 249_166.67),
    ],
)
def test_textbook_methods(method, order, o1, o2):
    result = solve(TEXTBOOK_COSTS, TEXTBOOK, method=method, order=order)
    assert result.final["O1"] == o1 and result.final["O2"] == o2
    assert result.final["S1"] == 0 and result.final["S2"] == 0
    assert result.final_cents.sum() == 40_000_000
    assert result.by_origin.groupby("cost_center")["amount_cents"].sum().to_dict() == {
        k: v for k, v in result.final_cents.items() if v
    }


def test_textbook_reciprocal_totals_and_cycle_report():
    result = solve(TEXTBOOK_COSTS, TEXTBOOK)
    assert result.total["S1"] == round(3_200_000 / 49, 2)
    assert result.total["S2"] == round(2_600_000 / 49, 2)
    assert result.cycles[["size", "solver"]].values.tolist() == [[2, "stacked"]]
    assert sorted(result.cycle_members["cost_center"]) == ["S1", "S2"]
    assert result.condition == pytest.approx(1.2 * (1.2 / 0.98), rel=1e-12)  # ||A||_1 ||A^-1||_1
    assert result.residual < 1e-9 and result.relative_residual < 1e-14


def test_step_down_reports_its_closing_order():
    assert solve(TEXTBOOK_COSTS, TEXTBOOK, method="step-down").order == ("S1", "S2")
    assert solve(TEXTBOOK_COSTS, TEXTBOOK, method="step-down", order=["S2"]).order == ("S2", "S1")


def test_iterative_converges_to_reciprocal_on_a_cycle():
    exact = solve(TEXTBOOK_COSTS, TEXTBOOK)
    passes = solve(TEXTBOOK_COSTS, TEXTBOOK, method="iterative", tolerance=1e-9)
    assert passes.converged and passes.iteration_count > 5
    pd.testing.assert_series_equal(passes.final_cents, exact.final_cents)
    assert np.allclose(passes.total, exact.total, atol=1e-6)
    with pytest.warns(MultilevelWarning, match="stopped after 2 without converging"):
        rough = solve(TEXTBOOK_COSTS, TEXTBOOK, method="iterative", max_iterations=2, trace_iterations=False)
    assert rough.converged is False and rough.iterations is None
    assert any("without converging" in w for w in rough.warnings)
    assert rough.final_cents.sum() == exact.final_cents.sum()  # cents still conserved


def test_default_step_down_order_on_a_dag_equals_reciprocal():
    matrix = frame([("A", "B", 40), ("A", "X", 60), ("B", "C", 70), ("B", "X", 30), ("C", "Y", 100)])
    costs = pd.Series({"C": 10, "B": 20, "A": 30})  # own cost order would close C first: upstream wins
    step = solve(costs, matrix, method="step-down")
    assert step.order == ("A", "B", "C")
    pd.testing.assert_series_equal(step.final_cents, solve(costs, matrix).final_cents)


# --- semantics ---------------------------------------------------------------------------------------


def test_retention_explicit_implicit_and_unlisted_cost_centers():
    matrix = frame([("A", "A", 30), ("A", "B", 50), ("C", "B", 60)])  # A keeps 30 + unlisted 20
    costs = pd.Series({"A": 100, "C": 50, "Z": 7})  # B only in the matrix: own 0; Z only in costs
    result = solve(costs, matrix)
    assert result.retention["A"] == pytest.approx(0.5) and result.retention["C"] == pytest.approx(0.4)
    assert result.final.to_dict() == {"A": 50.0, "C": 20.0, "Z": 7.0, "B": 80.0}
    assert list(result.own_cents.index) == ["A", "C", "Z", "B"]
    assert result.own_cents["B"] == 0


def test_amounts_as_int_float_decimal_and_text_are_exact_cents():
    matrix = frame([("A", "B", 100 / 3), ("A", "C", 100 / 3)])
    for costs in (
        pd.Series({"A": Decimal("100.01")}),
        pd.Series({"A": 100.01}),
        pd.Series({"A": "100.01"}, dtype="str"),
        {"A": Decimal("1.0001E+2")},
    ):
        result = solve(costs, matrix)
        assert result.final_cents.to_dict() == {"A": 3334, "B": 3334, "C": 3333}
    assert solve(pd.Series({"A": 5}), matrix).final_cents.sum() == 500


def test_mixed_sign_costs_conserve_and_trace():
    matrix = frame([("A", "B", 30), ("A", "C", 33.3), ("B", "A", 10), ("B", "C", 45.5)])
    costs = pd.Series({"A": -1234.57, "B": 999.99, "C": 0.01})
    result = solve(costs, matrix)
    assert result.final_cents.sum() == result.own_cents.sum()
    sums = result.by_origin.groupby("cost_center")["amount_cents"].sum()
    assert (sums.reindex(result.final_cents.index, fill_value=0) == result.final_cents).all()


@pytest.mark.parametrize("cyclic", [True, False])
def test_totals_only_gives_the_same_finals(cyclic):
    # Totals only takes the dense path (triangular solves over acyclic runs of levels); tracing the
    # sparse one (a product per level): same numbers.
    rng = np.random.default_rng(3)
    costs, matrix = _random_case(rng, 30, cyclic=cyclic)
    traced, plain = solve(costs, matrix), solve(costs, matrix, trace_origin=False)
    assert plain.by_origin is None
    pd.testing.assert_series_equal(traced.final_cents, plain.final_cents)
    pd.testing.assert_series_equal(traced.total, plain.total)


# --- against a dense reference -------------------------------------------------------------------------


def _random_case(rng, n, cyclic):
    names = [f"C{i:02d}" for i in range(n)]
    rows = []
    for i in range(n - 3):  # the last three only receive
        targets = rng.choice([j for j in range(n) if j != i and (cyclic or j > i)], size=min(4, n - i - 1), replace=False)
        share = rng.dirichlet(np.ones(len(targets) + 1)) * 100
        rows += [(names[i], names[j], round(float(p), 4)) for j, p in zip(targets, share[:-1])]
    costs = pd.Series(rng.integers(0, 10_000_000, n) / 100, index=names)
    return costs, frame(rows)


def _dense_reference(costs, matrix):
    names = list(costs.index)
    idx = {c: k for k, c in enumerate(names)}
    n = len(names)
    s = np.zeros((n, n))
    for src, tgt, pct in matrix.itertuples(index=False):
        s[idx[src], idx[tgt]] = pct / 100
    inverse = np.linalg.inv(np.eye(n) - s.T)
    retention = 1 - s.sum(axis=1)
    own = costs.to_numpy(dtype=float)
    parts = retention[:, None] * inverse * own[None, :]  # [holder, origin]
    return pd.Series(inverse @ own, index=names), pd.Series(parts.sum(axis=1), index=names), parts


@pytest.mark.parametrize("seed", range(6))
def test_reciprocal_matches_dense_solve_with_origins(seed):
    rng = np.random.default_rng(seed)
    costs, matrix = _random_case(rng, 25, cyclic=True)
    total, final, parts = _dense_reference(costs, matrix)
    result = solve(costs, matrix)
    assert np.allclose(result.total[costs.index], total, atol=0.006)
    assert (np.abs(result.final_cents[costs.index] - final * 100) < 1).all()
    got = result.by_origin.pivot_table(index="cost_center", columns="origin", values="amount_cents", aggfunc="sum")
    got = got.reindex(index=costs.index, columns=costs.index).fillna(0).to_numpy()
    assert np.abs(got - parts * 100).max() < 1.0 + 1e-6
    assert result.residual < 1e-6


@pytest.mark.parametrize("dense_limit", [4000, 8])
def test_big_cycle_dense_lu_and_krylov_paths(monkeypatch, dense_limit):
    monkeypatch.setattr(factorize, "DENSE_COMPONENT", dense_limit)
    n = 40  # one ring of 40 (over SMALL_COMPONENT) plus a second ring edge, each keeps 5-25%
    names = [f"R{i:02d}" for i in range(n)]
    rows = [(names[i], names[(i + 1) % n], 50) for i in range(n)] + [(names[i], names[(i + 7) % n], 30) for i in range(n)]
    rows += [(names[i], "OUT", 20 - (i % 3) * 5) for i in range(n)]
    costs = pd.Series(np.arange(1, n + 1) * 1000.0, index=names)
    result = solve(costs, frame(rows))
    pd.testing.assert_series_equal(solve(costs, frame(rows), trace_origin=False).final_cents, result.final_cents)
    expected_solver = "dense" if dense_limit > n else "krylov"
    assert result.cycles["solver"].tolist() == [expected_solver]
    total, final, _ = _dense_reference(pd.concat([costs, pd.Series({"OUT": 0.0})]), frame(rows))
    assert np.allclose(result.total, total[result.total.index], atol=0.006)
    assert result.final_cents.sum() == result.own_cents.sum()
    assert result.residual < 1e-6


# --- validation and errors -----------------------------------------------------------------------------


def test_percent_sum_over_100_names_source_and_sum():
    with pytest.raises(MultilevelError, match=r"source 'A': percents sum to 110, more than 100 \(rows 1, 2\)"):
        solve(pd.Series({"A": 1}), frame([("A", "B", 60), ("A", "C", 50)]))


def test_every_bad_row_is_reported_at_once():
    matrix = frame([("A", "B", -5), ("A", "", 10), ("B", "C", "ten"), ("B", "C", 20), ("B", "C", 30)])
    costs = pd.Series([1, "1.234", None], index=["A", "A", "B"])
    with pytest.raises(MultilevelError) as info:
        solve(costs, matrix)
    assert [str(p) for p in info.value.problems] == [
        "costs row 2: cost center 'A' appears more than once (rows 1, 2)",
        "costs row 2: amount '1.234' for 'A' is not an amount with at most two decimal places",
        "costs row 3: amount for 'B' is missing",
        "matrix row 1: percent -5 is negative",
        "matrix row 2: target is empty",
        "matrix row 3: percent 'ten' is not a number",
        "matrix row 5: source 'B', target 'C' appears more than once (rows 4, 5)",
    ]


def test_missing_matrix_columns_and_bad_arguments():
    with pytest.raises(MultilevelError, match="missing column"):
        solve(pd.Series({"A": 1}), pd.DataFrame({"source": ["A"], "target": ["B"]}))
    with pytest.raises(MultilevelError, match="unknown method"):
        solve(TEXTBOOK_COSTS, TEXTBOOK, method="magic")
    with pytest.raises(MultilevelError, match="only to the step-down"):
        solve(TEXTBOOK_COSTS, TEXTBOOK, order=["S1"])
    with pytest.raises(MultilevelError) as info:
        solve(TEXTBOOK_COSTS, TEXTBOOK, method="step-down", order=["S1", "NOPE", "O1", "S1"])
    messages = [str(p) for p in info.value.problems]
    assert messages == [
        "order row 2: 'NOPE' is not a cost center of the costs or the matrix",
        "order row 3: 'O1' is not a source in the matrix",
        "order row 4: 'S1' is listed more than once",
    ]


def test_closed_cycle_is_an_error_naming_the_cycle():
    matrix = frame([("A", "B", 100), ("B", "C", 100), ("C", "A", 100), ("D", "A", 50), ("E", "F", 100), ("F", "E", 60)])
    with pytest.raises(ClosedCycleError) as info:
        solve(pd.Series({"A": 1, "D": 2}), matrix)
    assert info.value.cycles == (("A", "B", "C"),)
    assert "closed cycle: 'A', 'B', 'C'" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_step_down_and_direct_refuse_cost_with_nowhere_to_go():
    chain = frame([("A", "B", 100), ("B", "X", 100)])
    with pytest.raises(MultilevelError, match="direct: 'A' sends only to other sources"):
        solve(pd.Series({"A": 1}), chain, method="direct")
    with pytest.raises(MultilevelError, match="step-down: 'A' sends only to sources closed before it"):
        solve(pd.Series({"A": 1}), chain, method="step-down", order=["B", "A"])


def test_ill_conditioned_cycle_is_warned_with_its_condition():
    matrix = frame([("A", "B", 99.9999999), ("B", "A", 100)])
    with pytest.warns(MultilevelWarning, match=r"ill-conditioned cycle \(2 cost centers: 'A', 'B'\): condition estimate"):
        result = solve(pd.Series({"A": 100, "B": 50}), matrix)
    assert result.condition > 1e9
    assert result.final_cents.sum() == 15_000 and result.final_cents["A"] == 15_000
    assert any("ill-conditioned" in w for w in result.warnings)


def test_source_without_cost_or_inflow_is_warned():
    with pytest.warns(MultilevelWarning, match="'TYPO' have no own cost and receive nothing"):
        solve(pd.Series({"A": 1}), frame([("TYPO", "B", 100)]))


# --- rounding helpers -----------------------------------------------------------------------------------


def test_grouped_rounding_is_largest_remainder_per_group():
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 12, 300)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    weights = rng.integers(1, 1000, sizes.sum()).astype(float)
    totals = rng.integers(-100_000, 100_000, sizes.size)
    got = rounding.largest_remainder_groups(starts, totals, weights)
    for g, (lo, size) in enumerate(zip(starts, sizes)):
        assert got[lo : lo + size].tolist() == largest_remainder(int(totals[g]), weights[lo : lo + size]).tolist()


def test_split_cents_handles_signs_and_zero_totals():
    assert rounding.split_cents(0, np.array([0.0, 0.0])).tolist() == [0, 0]
    out = rounding.split_cents(-5, np.array([10.4, -15.4]))
    assert out.sum() == -5 and out[0] > 0 > out[1]
    rows = rounding.split_cents_rows(np.array([0, 2, 2, 5]), np.array([3, 0, -7]), np.array([1.5, 1.5, -2.2, -2.2, -2.6]))
    assert rows.tolist() == [2, 1, -2, -2, -3]
