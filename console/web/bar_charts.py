"""Server-rendered bar charts: per slot, one bar above the axis and one below it (charge
and discharge energy per bucket), laid out here so the template only loops."""

from collections.abc import Callable
from dataclasses import dataclass
from math import floor, log10

WIDTH, HEIGHT = 600, 200
# The left margin holds a tick label such as "100,000 kWh" at 11 px (the demo reaches 10,000).
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 84, 4, 8, 22


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    kind: str  # "above" or "below" the zero line
    title: str  # what a pointer shows: the slot and its exact value


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    zero: float  # y of the zero line
    y_ticks: list[tuple[float, str]]  # (y position, label)
    x_ticks: list[tuple[float, str, str]]  # (x position, label, text-anchor)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = PAD_LEFT
    right: int = WIDTH - PAD_RIGHT

    @property
    def empty(self) -> bool:
        return not self.bars


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value`: an axis end a
    reader can read."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** floor(log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude * (1 + 1e-9):
            return step * magnitude
    return 10 * magnitude


def axis_label(value: float, unit: str) -> str:
    number = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"
    return f"{number} {unit}"


def bar_chart(
    slots: list[str],
    above: dict[str, float],
    below: dict[str, float],
    *,
    unit: str,
    above_name: str,
    below_name: str,
    tick_label: Callable[[str], str] = str,
) -> BarChart:
    """Bars for the slots, in order, on one linear scale: `above` values rise from the
    zero line, `below` values hang from it; a slot missing from either draws nothing."""
    highest = max((abs(v) for v in above.values()), default=0.0)
    deepest = max((abs(v) for v in below.values()), default=0.0)
    bottom = nice_ceiling(deepest) if deepest > 0 else 0.0
    # An axis for whichever side has values (the upper one when neither has).
    top = nice_ceiling(highest) if highest > 0 or not bottom else 0.0
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    slot_w = (WIDTH - PAD_RIGHT - PAD_LEFT) / max(len(slots), 1)
    # Gaps between bars while there is room for them; past that, the bars touch.
    bar_w = round(slot_w * 0.7 if slot_w >= 2 else slot_w, 3)

    def y_of(value: float) -> float:
        return round(PAD_TOP + plot_h * (top - value) / (top + bottom), 2)

    zero = y_of(0.0)
    bars = []
    for index, slot in enumerate(slots):
        x = round(PAD_LEFT + index * slot_w + (slot_w - bar_w) / 2, 3)
        rising, hanging = abs(above.get(slot, 0.0)), abs(below.get(slot, 0.0))
        if rising > 0:
            title = f"{slot}: {above_name} {rising:,.3f} {unit}"
            bars.append(Bar(x, y_of(rising), bar_w, round(zero - y_of(rising), 2), "above", title))
        if hanging > 0:
            title = f"{slot}: {below_name} {hanging:,.3f} {unit}"
            bars.append(Bar(x, zero, bar_w, round(y_of(-hanging) - zero, 2), "below", title))
    if top and bottom:
        marks = [top, 0.0, -bottom]
    elif bottom:
        marks = [0.0, -bottom / 2, -bottom]
    else:
        marks = [top, top / 2, 0.0]
    y_ticks = [(y_of(mark), axis_label(abs(mark), unit)) for mark in marks]

    def centre(index: int) -> float:
        return round(PAD_LEFT + (index + 0.5) * slot_w, 2)

    picks = sorted({0, len(slots) // 2, len(slots) - 1}) if slots else []
    anchors = {0: (), 1: ("middle",), 2: ("start", "end"), 3: ("start", "middle", "end")}
    x_ticks = [
        (centre(i), tick_label(slots[i]), anchor)
        for i, anchor in zip(picks, anchors[len(picks)], strict=True)
    ]
    return BarChart(bars, zero, y_ticks, x_ticks)
