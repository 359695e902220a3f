"""probdeg.checks: a count is an int, not a bool, at least its minimum."""

from probdeg.checks import is_count


def test_counts_are_integers_not_booleans_at_least_the_minimum():
    assert is_count(1) and is_count(0, 0) and is_count(8, 8)
    assert not is_count(0) and not is_count(7, 8) and not is_count(-1, 0)
    assert not is_count(True) and not is_count(False, 0)  # Python counts a bool as an int
    assert not is_count(2.0) and not is_count("2") and not is_count(None)
