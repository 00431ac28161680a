"""The bar-chart layout: values above and below one zero line, on one linear scale, with
axis ends a person can read."""

import pytest

from console.web.bar_charts import HEIGHT, PAD_BOTTOM, PAD_TOP, axis_label, bar_chart, nice_ceiling

SLOTS = ["2025-03-13", "2025-03-14", "2025-03-15"]


def chart(above, below=None, slots=SLOTS):
    return bar_chart(
        slots, above, below or {}, unit="kWh", above_name="charge", below_name="discharge"
    )


@pytest.mark.parametrize(
    "value, ceiling",
    [(0, 1), (0.3, 0.5), (1, 1), (1.2, 2), (3, 5), (7, 10), (21, 50), (1000, 1000), (1001, 2000)],
)
def test_the_axis_ends_on_one_two_or_five_times_a_power_of_ten(value, ceiling):
    assert nice_ceiling(value) == pytest.approx(ceiling)


def test_axis_labels_group_large_numbers():
    assert (axis_label(0.5, "kWh"), axis_label(20000, "kWh")) == ("0.5 kWh", "20,000 kWh")


def test_values_rise_from_the_zero_line_in_proportion():
    drawn = chart({"2025-03-13": 10.0, "2025-03-15": 5.0})
    assert drawn.zero == HEIGHT - PAD_BOTTOM  # nothing below: the line is at the bottom
    tall, short = drawn.bars
    assert tall.height == pytest.approx(HEIGHT - PAD_TOP - PAD_BOTTOM)
    assert short.height == pytest.approx(tall.height / 2, abs=0.01)
    assert tall.y + tall.height == pytest.approx(drawn.zero)
    assert tall.x < short.x and {tall.kind, short.kind} == {"above"}


def test_values_below_hang_from_the_zero_line_on_the_same_scale():
    drawn = chart({"2025-03-14": 10.0}, {"2025-03-14": 10.0})
    above, below = drawn.bars
    assert (above.kind, below.kind) == ("above", "below")
    assert below.y == drawn.zero and above.y + above.height == pytest.approx(drawn.zero)
    assert below.height == pytest.approx(above.height)
    assert above.x == below.x  # the same slot


def test_each_bar_is_titled_with_its_slot_and_exact_value():
    drawn = chart({"2025-03-13": 1234.5678}, {"2025-03-15": 0.25})
    assert [bar.title for bar in drawn.bars] == [
        "2025-03-13: charge 1,234.568 kWh",
        "2025-03-15: discharge 0.250 kWh",
    ]


def test_a_slot_without_a_value_draws_nothing():
    assert chart({"2025-03-14": 0.0}).empty
    assert chart({}).empty and len(chart({}).y_ticks) == 3


def test_the_axis_names_the_first_middle_and_last_slots_shortened():
    drawn = bar_chart(
        [f"2025-03-15T{h:02d}:00:00Z" for h in range(24)],
        {},
        {},
        unit="kWh",
        above_name="charge",
        below_name="discharge",
        tick_label=lambda label: label[11:16],
    )
    assert [(label, anchor) for _, label, anchor in drawn.x_ticks] == [
        ("00:00", "start"),
        ("12:00", "middle"),
        ("23:00", "end"),
    ]
    assert [label for _, label, _ in chart({}, slots=["2025-03"]).x_ticks] == ["2025-03"]


def test_thousands_of_slots_still_fit_the_width():
    slots = [str(n) for n in range(10_000)]
    drawn = chart({slot: 1.0 for slot in slots}, slots=slots)
    last = drawn.bars[-1]
    assert last.x + last.width <= drawn.right + 0.01 and drawn.bars[0].x >= drawn.left
    assert last.width > 0


def test_values_only_below_use_the_whole_height_under_a_line_at_the_top():
    drawn = chart({}, {"2025-03-14": 4.0})
    (bar,) = drawn.bars
    assert drawn.zero == PAD_TOP
    assert bar.height == pytest.approx(0.8 * (HEIGHT - PAD_TOP - PAD_BOTTOM), abs=0.01)
    assert [label for _, label in drawn.y_ticks] == ["0 kWh", "2.5 kWh", "5 kWh"]
