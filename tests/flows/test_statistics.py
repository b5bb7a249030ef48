"""The χ² critical values and the flow counts the ECMP suite relies on."""

from __future__ import annotations

import math

import pytest

from pytest_ciliumbgp.flows.statistics import (
    chi_square_critical,
    chi_square_sf,
    chi_square_uniform,
    exact_exceedance,
)


def test_statistic_of_an_even_spread_is_zero() -> None:
    assert chi_square_uniform([30, 30, 30]) == 0


def test_statistic_of_everything_on_one_next_hop() -> None:
    assert chi_square_uniform([60, 0, 0]) == pytest.approx(120.0)


def test_df2_critical_value_has_its_closed_form() -> None:
    assert chi_square_critical(2, 1e-4) == pytest.approx(-2 * math.log(1e-4), rel=1e-7)


@pytest.mark.parametrize(("df", "alpha", "table"), [
    (1, 0.05, 3.841459), (3, 1e-4, 21.107513), (5, 0.01, 15.086272), (10, 0.001, 29.588298),
])
def test_critical_values_match_published_tables(df: int, alpha: float, table: float) -> None:
    assert chi_square_critical(df, alpha) == pytest.approx(table, rel=1e-6)


def test_survival_function_is_one_at_zero() -> None:
    assert chi_square_sf(0.0, 2) == 1.0


@pytest.mark.parametrize("flows", [30, 45, 60, 90])
def test_a_uniform_spread_fails_with_probability_at_most_alpha(flows: int) -> None:
    """Exact multinomial tail beyond the asymptotic critical value, for three next hops."""
    critical = chi_square_critical(2, 1e-4)
    assert exact_exceedance(flows, 3, critical) <= 1e-4


def test_exact_exceedance_of_a_low_threshold_is_large() -> None:
    assert exact_exceedance(12, 3, 0.5) > 0.5
