"""The field-case table in docs/diagnostics.md mirrors the test data (cases.py): one row
per case, with its alert, its runbook and its documented outcome."""

from pathlib import Path

from tests.scenarios.cases import CASES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "diagnostics.md"
HEADING = "## Field cases and their documented outcomes"


def table_rows() -> dict[str, list[str]]:
    text = DOCS.read_text()
    section = text[text.index(HEADING) :].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    cells = [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]
    return {row[0]: row for row in cells}


def test_the_docs_table_has_one_row_per_case_with_its_alert_runbook_and_outcome():
    rows = table_rows()
    assert set(rows) == {case.title for case in CASES.values()}
    for case in CASES.values():
        _, _, alert, runbook, outcome, *_ = rows[case.title]
        assert alert.startswith(f"`{case.detector}`"), (case.key, alert)
        if case.fault_code:
            assert case.fault_code in alert, (case.key, alert)
        if case.runbook:
            assert runbook.startswith(f"`{case.runbook}`"), (case.key, runbook)
        else:
            assert runbook.startswith("none"), (case.key, runbook)
        if case.outcome is None:
            assert outcome.startswith("no run"), (case.key, outcome)
        else:
            said = f"**{case.outcome.status}** at `{case.outcome.step}`"
            assert outcome.startswith(said), (case.key, outcome)
            if case.outcome.target:
                assert f"`{case.outcome.target}`" in outcome, (case.key, outcome)
            for value in case.outcome.action.values():
                assert value in outcome, (case.key, value, outcome)
