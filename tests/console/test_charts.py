"""The inline SVG power chart's numbers."""

from datetime import UTC, datetime, timedelta

from console.web.charts import HEIGHT, PAD_BOTTOM, PAD_LEFT, power_chart

UNTIL = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SINCE = UNTIL - timedelta(minutes=15)


def points(series) -> list[tuple[float, float]]:
    return [tuple(map(float, pair.split(","))) for pair in series.points.split()]


def test_lines_run_from_the_left_edge_to_now_scaled_to_a_round_maximum():
    chart = power_chart({1: [(SINCE, 0.0), (UNTIL, 7.4)]}, SINCE, UNTIL)
    (x0, y0), (x1, y1) = points(chart.series[0])
    assert chart.y_max == 10 and chart.series[0].last_value == 7.4
    assert x0 == PAD_LEFT and y0 == HEIGHT - PAD_BOTTOM
    assert x1 > x0 and y1 < y0


def test_discharging_goes_below_the_zero_line():
    chart = power_chart({1: [(SINCE, -5.0), (UNTIL, 5.0)]}, SINCE, UNTIL)
    (_, low), (_, high) = points(chart.series[0])
    zero = dict((label, y) for y, label in chart.y_ticks)["0 kW"]
    assert high < zero < low


def test_a_connector_without_samples_has_no_line_and_an_empty_chart_says_so():
    chart = power_chart({1: [], 2: []}, SINCE, UNTIL)
    assert chart.empty and [s.points for s in chart.series] == ["", ""]


def test_samples_outside_the_window_are_pinned_to_its_edges():
    chart = power_chart({1: [(SINCE - timedelta(hours=1), 1e9)]}, SINCE, UNTIL)
    [(x, y)] = points(chart.series[0])
    assert x == PAD_LEFT and y >= 0
