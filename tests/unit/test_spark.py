"""The dashboard's sparklines: scaled to the largest value shown, gaps as spaces."""

from __future__ import annotations

from workbench.app.spark import HISTORY, Series, spark


def test_bars_scale_to_the_largest_value_and_gaps_stay_blank():
    assert spark([0.0, 50.0, None, 100.0], width=4) == "▁▅ █"
    assert spark([1.0, 1.0], width=4, floor=100.0) == "  ▁▁"  # idle stays low, right-aligned
    assert spark([], width=3) == "   "
    assert spark([None, None], width=2) == "  "


def test_only_the_last_width_values_are_drawn():
    assert spark([100.0, *[0.0] * 8], width=8) == "▁" * 8


def test_a_series_keeps_an_hour_and_takes_only_numbers():
    s = Series()
    for i in range(HISTORY + 5):
        s.add("cpu", i)
    s.add("cpu", "12")  # text from a host is no number
    s.add("cpu", True)
    values = s.get("cpu")
    assert len(values) == HISTORY and values[-2:] == [None, None] and values[0] == 7.0
    assert s.get("nothing") == []


def test_the_memory_cell_has_bars_and_the_newest_figure():
    from workbench.app.rowtext import memory_cell

    mib = 1024 * 1024
    assert memory_cell([10 * mib, 10.3 * mib, 10.6 * mib], None) == "▁▅█ 10.6M"  # a leak
    assert memory_cell([10 * mib, 10 * mib, 10 * mib], None) == "▄▄▄ 10.0M"  # level
    assert memory_cell([None, 2048 * mib], None) == " ▄ 2.0G"
    assert memory_cell([], 11776) == " 11.5M"  # status' figure before any sample
    assert memory_cell([], None) == "-"


def test_what_is_no_sample_is_a_gap_and_never_breaks_a_graph():
    s = Series()
    for value in (float("nan"), float("inf"), -1.0, 5.0):
        s.add("cpu", value)
    assert s.get("cpu") == [None, None, None, 5.0]
    assert spark([float("nan"), -3.0, 2.0], width=3) == "  █"
