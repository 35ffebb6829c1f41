"""The fairness report's statistics, as pure functions."""

from __future__ import annotations

import math

import pytest

from evently.waiting_room.report import (
    achieved_rate,
    average_ranks,
    fifo_fidelity,
    percentile,
    spearman,
)


def test_tied_values_share_the_average_of_their_ranks():
    assert average_ranks([10, 20, 20, 30]) == [1, 2.5, 2.5, 4]
    assert average_ranks(["b", "a", "b"]) == [2.5, 1, 2.5]
    assert average_ranks([]) == []


def test_spearman_is_one_for_the_same_order_and_minus_one_for_the_reverse():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [40, 30, 20, 10]) == pytest.approx(-1.0)


def test_spearman_with_ties_is_pearson_over_average_ranks():
    # Four arrivals tied at the opening, then two later ones; admitted in order 1..6.
    rho = spearman([0, 0, 0, 0, 5, 6], [1, 2, 3, 4, 5, 6])
    assert rho == pytest.approx(12.5 / math.sqrt(12.5 * 17.5))


def test_spearman_is_undefined_for_fewer_than_two_pairs_or_a_constant_side():
    assert spearman([1], [1]) is None
    assert spearman([1, 1, 1], [1, 2, 3]) is None
    with pytest.raises(ValueError):
        spearman([1, 2], [1])


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([], 50) is None


def test_fifo_fidelity_is_the_share_of_the_first_k_arrivals_who_got_seats():
    # K = 3 winners; of the first three arrivals, two won.
    assert fifo_fidelity([True, True, False, True, False]) == (3, 2, pytest.approx(2 / 3))
    assert fifo_fidelity([True, True, False]) == (2, 2, 1.0)
    assert fifo_fidelity([False, False]) == (0, 0, None)


def test_achieved_rate_is_the_measured_admissions_per_minute():
    assert achieved_rate(5, 5.0) == pytest.approx(60.0)
    assert achieved_rate(0, 0.0) is None
