"""Random and mutated rule files: the loader returns a rule set or located errors, never
anything else, and never hangs."""

from __future__ import annotations

import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import RuleSetInvalid
from engine.ruleset.live import compile_folder
from tests.conftest import RULES

SAMPLES = sorted(p.name for pattern in ("*.yaml", "*.csv") for p in RULES.glob(pattern))
YAML_NOISE = st.sampled_from(
    [
        ":",
        "-",
        " ",
        "\n",
        "  ",
        "{",
        "}",
        "[",
        "]",
        "&a",
        "*a",
        "!!python/object:os.system",
        "'",
        '"',
        "#",
        "1e-05",
        "~",
        "<<: *a",
        "\t",
        ",",
        "\x00",
        "..",
        "|",
    ]
)


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        at = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "truncate"]))
        if edit == "delete":
            del lines[at]
        elif edit == "duplicate":
            lines.insert(at, lines[at])
        elif edit == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif edit == "insert":
            column = draw(st.integers(0, len(lines[at])))
            noise = "".join(draw(st.lists(YAML_NOISE, min_size=1, max_size=3)))
            lines[at] = lines[at][:column] + noise + lines[at][column:]
        else:
            lines[at] = lines[at][: draw(st.integers(0, len(lines[at])))]
    return "".join(lines)


def _load(folder: Path) -> None:
    try:
        _, matcher = compile_folder(folder)
    except RuleSetInvalid as invalid:
        assert invalid.errors
        for error in invalid.errors:
            assert error.line >= 1 and error.column >= 1 and error.code and error.message
        return
    matcher.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(SAMPLES), data=st.data())
def test_a_mutated_sample_file_loads_or_is_refused_with_located_errors(tmp_path, name, data):
    folder = tmp_path / "rules"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(RULES, folder)
    (folder / name).write_text(data.draw(mutated((RULES / name).read_text())))

    _load(folder)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_random_text_as_a_rule_file_is_refused_with_located_errors(tmp_path, text):
    folder = tmp_path / "rules"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(RULES, folder)
    (folder / "random.yaml").write_text(text)

    _load(folder)
