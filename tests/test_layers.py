"""The layers (README: Architecture) are enforced, not just described: CI runs `make test`
only, so these tests run import-linter's contracts (pyproject.toml, [tool.importlinter])
and fail on any import that goes up a layer or across between the API and the console."""

import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_import_breaks_the_layers():
    # The venv's interpreter runs the venv's lint-imports, whatever PATH holds.
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [sys.executable, str(lint_imports), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_console_module_but_the_pages_is_declared_plumbing():
    # Plumbing is listed by name in the layers contract; a console module missing from it
    # would be in no layer, and the layers below could import it unnoticed.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    declared = {name.strip() for name in layers[0].split(":")}
    present = {f"console.{m.name}" for m in pkgutil.iter_modules([str(ROOT / "console")])}
    assert declared == present - {"console.web"}
