"""The committed gRPC code is exactly what scripts/generate_protos.py makes from protos/."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.conftest import REPO


def test_generated_code_matches_the_protos():
    result = subprocess.run(
        [sys.executable, "scripts/generate_protos.py", "--check"], cwd=REPO, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr


def test_the_check_fails_when_a_proto_changes(tmp_path):
    for part in ("protos", "scripts", "engine/api/generated"):
        shutil.copytree(REPO / part, tmp_path / part)
    proto = tmp_path / "protos" / "forestall" / "v1" / "common.proto"
    proto.write_text(proto.read_text().replace("MAIL = 7;", "MAIL = 7;\n  FAX = 8;"))

    result = subprocess.run(
        [sys.executable, "scripts/generate_protos.py", "--check"], cwd=tmp_path, capture_output=True, text=True
    )

    assert result.returncode == 1
    assert "common_pb2.py" in result.stderr
