"""Server-rendered charts: the numbers an inline SVG needs, computed here so the
template only loops (no script, no external asset)."""

from dataclasses import dataclass
from datetime import datetime

WIDTH, HEIGHT = 600, 180
PAD_LEFT, PAD_BOTTOM, PAD_TOP = 44, 22, 8


@dataclass(frozen=True)
class Series:
    label: str
    points: str  # "x,y x,y …" for a <polyline>
    last_value: float | None


@dataclass(frozen=True)
class LineChart:
    series: list[Series]
    y_max: float
    y_ticks: list[tuple[float, str]]  # (y position, label)
    x_ticks: list[tuple[float, str]]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = PAD_LEFT
    bottom: float = HEIGHT - PAD_BOTTOM

    @property
    def empty(self) -> bool:
        return not any(s.points for s in self.series)


def _nice_max(value: float) -> float:
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        if value <= step:
            return float(step)
    return float(int(value) + 1)


def power_chart(
    samples_by_connector: dict[int, list[tuple[datetime, float]]],
    since: datetime,
    until: datetime,
    unit: str = "kW",
) -> LineChart:
    """One line per connector over [since, until]; samples as (timestamp, value)."""
    span = max((until - since).total_seconds(), 1.0)
    values = [v for samples in samples_by_connector.values() for _, v in samples]
    y_max = _nice_max(max([abs(v) for v in values] + [1.0]))
    # Discharging (V2G) is reported as negative power: the axis then goes below zero.
    y_min = -y_max if any(v < 0 for v in values) else 0.0
    plot_w, plot_h = WIDTH - PAD_LEFT - 4, HEIGHT - PAD_BOTTOM - PAD_TOP
    bottom = HEIGHT - PAD_BOTTOM

    def x_of(at: datetime) -> float:
        return PAD_LEFT + plot_w * min(max((at - since).total_seconds() / span, 0.0), 1.0)

    def y_of(value: float) -> float:
        return bottom - plot_h * (min(max(value, y_min), y_max) - y_min) / (y_max - y_min)

    series = []
    for connector_id in sorted(samples_by_connector):
        samples = sorted(samples_by_connector[connector_id])
        points = " ".join(f"{x_of(at):.1f},{y_of(v):.1f}" for at, v in samples)
        series.append(
            Series(f"Connector {connector_id}", points, samples[-1][1] if samples else None)
        )
    marks = (y_min, 0.0, y_max) if y_min else (0.0, y_max / 2, y_max)
    y_ticks = [(y_of(mark), f"{mark:g} {unit}") for mark in marks]
    x_ticks = [
        (x_of(since), f"{span / 60:.0f} min ago"),
        (x_of(since + (until - since) / 2), f"{span / 120:.0f} min ago"),
        (x_of(until), "now"),
    ]
    return LineChart(series, y_max, y_ticks, x_ticks)
