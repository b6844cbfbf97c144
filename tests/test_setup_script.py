"""The set-up command says clearly what a fresh machine lacks before it tries to build."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def _setup_with_only(tmp_path: Path, *tools: str) -> subprocess.CompletedProcess[str]:
    """Run scripts/setup.sh with a PATH holding only python3 and the named tools."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    for tool in ("bash", "env", *tools):
        found = subprocess.run(["which", tool], capture_output=True, text=True, check=False).stdout.strip()
        if found:
            (bin_dir / tool).symlink_to(found)
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "setup.sh"), str(tmp_path / "venv")],
        cwd=REPO,
        env={**os.environ, "PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_setup_stops_with_a_clear_message_without_a_c_compiler(tmp_path):
    result = _setup_with_only(tmp_path)

    assert result.returncode == 1
    assert "no C compiler found" in result.stderr
    assert "build-essential" in result.stderr
    assert not (tmp_path / "venv").exists()
