"""`make lint` holds the architecture: import-linter refuses a core that does I/O."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree / "src")},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_core_module_importing_sqlalchemy_breaks_the_lint(tmp_path: Path) -> None:
    shutil.copytree(REPO / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    assert _lint_imports(tmp_path).returncode == 0
    cart = tmp_path / "src" / "chatcentral" / "conversation" / "cart.py"
    cart.write_text(cart.read_text() + "\nimport sqlalchemy  # noqa: E402\n")
    result = _lint_imports(tmp_path)
    assert result.returncode == 1
    assert "The conversation core does no I/O BROKEN" in result.stdout
    assert "chatcentral.conversation.cart -> sqlalchemy" in result.stdout
