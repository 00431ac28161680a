"""The firmware-version bar chart of a fault code's entry: one horizontal bar per version
(in version order) for the chargers running it, the count written beside each bar, and
versions inside a known issue's affected range drawn hatched and labelled in words."""

from dataclasses import dataclass
from typing import Any

WIDTH = 640
ROW_HEIGHT = 30
BAR_HEIGHT = 18
PAD_TOP = 6
LABEL_WIDTH = 130  # version labels end here; the bars start here
BAR_SPACE = 300  # the longest bar
MAX_BARS = 24  # more versions than this: the least common are summed up in words

# A bar's state (diagnostics.services.faults.firmware_distribution) in words.
STATE_WORDS = {
    "affected": "affected",
    "partly": "partly affected",
    "unknown": "cannot tell (version not comparable)",
    "clear": "not affected",
}


@dataclass(frozen=True)
class VersionBar:
    version: str
    devices: int
    affected: int
    state: str
    y: float
    width: float
    text: str  # the count and the state, written beside the bar

    @property
    def affected_width(self) -> float:
        """The hatched part of the bar: its affected chargers."""
        return round(self.width * self.affected / self.devices, 1) if self.devices else 0.0

    @property
    def text_x(self) -> float:
        return LABEL_WIDTH + self.width + 8

    @property
    def middle(self) -> float:
        return self.y + BAR_HEIGHT / 2


@dataclass(frozen=True)
class VersionChart:
    bars: list[VersionBar]
    height: int
    other_versions: int  # versions left out of the chart
    other_devices: int  # chargers running them
    width: int = WIDTH
    left: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT

    @property
    def empty(self) -> bool:
        return not self.bars


def state_text(row: dict[str, Any], with_issues: bool) -> str:
    count = f"{row['devices']} charger{'s' if row['devices'] != 1 else ''}"
    if not with_issues:
        return count
    if row["state"] == "partly":
        return f"{count} · {row['affected']} affected"
    return f"{count} · {STATE_WORDS[row['state']]}"


def version_chart(
    rows: list[dict[str, Any]], *, with_issues: bool, max_bars: int = MAX_BARS
) -> VersionChart:
    """Bars for the distribution's rows (already in version order). Without known issues
    the bars say only their count; past `max_bars` versions, the most common are drawn
    and the rest counted in the chart's summary."""
    kept = set(range(len(rows)))
    if len(rows) > max_bars:
        kept = set(sorted(kept, key=lambda i: -rows[i]["devices"])[:max_bars])
    shown = [row for i, row in enumerate(rows) if i in kept]
    most = max((row["devices"] for row in shown), default=0)
    bars = [
        VersionBar(
            version=row["version"],
            devices=row["devices"],
            affected=row["affected"],
            state=row["state"] if with_issues else "clear",
            y=PAD_TOP + index * ROW_HEIGHT,
            width=round(max(2.0, BAR_SPACE * row["devices"] / most), 1) if most else 0.0,
            text=state_text(row, with_issues),
        )
        for index, row in enumerate(shown)
    ]
    left_out = [row for i, row in enumerate(rows) if i not in kept]
    return VersionChart(
        bars=bars,
        height=PAD_TOP * 2 + len(bars) * ROW_HEIGHT,
        other_versions=len(left_out),
        other_devices=sum(row["devices"] for row in left_out),
    )
