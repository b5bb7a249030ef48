"""Pearson's χ² goodness of fit against a uniform spread, in pure Python.

The critical value comes from the χ² survival function, which is the regularised upper
incomplete gamma function Q(df/2, x/2), evaluated by its series (x < a + 1) or its continued
fraction (Numerical Recipes §6.2), and inverted by bisection. For df = 2 it has the closed
form Q = exp(-x/2), so the critical value at alpha is -2 ln alpha (alpha = 1e-4: 18.4207); the
unit tests check that, and check against the exact multinomial distribution that a uniform
spread of the flow counts the suite uses exceeds the critical value with probability ≤ alpha.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_EPSILON = 1e-15
_TINY = 1e-300


def chi_square_uniform(counts: Sequence[int]) -> float:
    """Pearson's statistic of ``counts`` against equal expected counts."""
    expected = sum(counts) / len(counts)
    return sum((count - expected) ** 2 for count in counts) / expected


def _upper_gamma_series(a: float, x: float) -> float:
    term = total = 1.0 / a
    n = a
    while abs(term) > abs(total) * _EPSILON:
        n += 1
        term *= x / n
        total += term
    return 1.0 - total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _upper_gamma_fraction(a: float, x: float) -> float:
    # Modified Lentz's method for the continued fraction of Γ(a, x).
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    i = 0
    while True:
        i += 1
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPSILON:
            return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def chi_square_sf(x: float, df: int) -> float:
    """P(X > x) for X ~ χ²(df)."""
    if x <= 0:
        return 1.0
    a, half = df / 2.0, x / 2.0
    return _upper_gamma_series(a, half) if half < a + 1 else _upper_gamma_fraction(a, half)


def chi_square_critical(df: int, alpha: float) -> float:
    """The x with P(χ²(df) > x) = alpha (bisection; the survival function is decreasing)."""
    low, high = 0.0, 1.0
    while chi_square_sf(high, df) > alpha:
        high *= 2
    while high - low > 1e-9 * high:
        middle = (low + high) / 2
        low, high = (middle, high) if chi_square_sf(middle, df) > alpha else (low, middle)
    return (low + high) / 2


def exact_exceedance(flows: int, cells: int, threshold: float) -> float:
    """P(statistic > threshold) when ``flows`` fall uniformly at random into ``cells`` cells,
    summed over every outcome of the multinomial (feasible for small flows and cells)."""
    log_cell = math.log(cells)
    total = 0.0

    def place(left: int, cells_left: int, counts: list[int]) -> None:
        nonlocal total
        if cells_left == 1:
            outcome = [*counts, left]
            if chi_square_uniform(outcome) > threshold:
                log_p = (math.lgamma(flows + 1) - sum(math.lgamma(c + 1) for c in outcome)
                         - flows * log_cell)
                total += math.exp(log_p)
            return
        for count in range(left + 1):
            place(left - count, cells_left - 1, [*counts, count])

    place(flows, cells, [])
    return total
