"""Charts drawn from plain data, and the percentile they use: no database."""

import pytest

from verification.backoffice import reports
from verification.backoffice.charts import Series, horizontal_bar_chart, stacked_bar_chart


def test_percentile_interpolates_between_ranks():
    assert reports.percentile([10, 20], 50) == 15
    assert reports.percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    with pytest.raises(ValueError):
        reports.percentile([], 50)


def test_charts_escape_every_label():
    hostile = '<script>alert("x")</script>'
    bars = horizontal_bar_chart(title=hostile, rows=[(hostile, 3, 5)], x_label=hostile,
                                series_labels=[hostile, hostile])
    stacked = stacked_bar_chart(title=hostile, categories=[hostile], series=[Series(hostile, [2])],
                                x_label=hostile, y_label=hostile)
    for svg in (bars, stacked):
        assert "<script" not in svg and "&lt;script&gt;" in svg
        assert svg.startswith("<svg") and 'role="img"' in svg and "<title>" in svg


def test_a_stacked_chart_draws_one_rect_per_non_zero_value_and_a_legend():
    svg = stacked_bar_chart(title="t", categories=["a", "b"], x_label="x", y_label="y",
                            series=[Series("one", [1, 0]), Series("two", [2, 3])])
    # Three bars and two legend swatches.
    assert svg.count("<rect") == 5 and ">one<" in svg and ">two<" in svg
