"""The CI entry point must at least parse: a broken `.ci/run` fails CI before any test runs."""

import shutil
import subprocess
from pathlib import Path

import pytest

CI_SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "run"


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_ci_script_is_valid_bash():
    result = subprocess.run(["bash", "-n", str(CI_SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_ci_script_runs_make_test_last():
    lines = [line.strip() for line in CI_SCRIPT.read_text().splitlines() if line.strip()]
    assert lines[-1] == "make test"
    assert "set -euo pipefail" in lines
