"""Rule set diffs: rules added, removed and changed part by part, moves, the catalogue, and the command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.ruleset.diff import (
    CatalogueChange,
    ChangedRule,
    DescribedRule,
    MovedRule,
    PartChange,
    RuleSetDiff,
    diff_rule_sets,
    pretty_report,
)
from engine.ruleset.loader import load_rule_set
from tests.conftest import DATA, REPO

# `after/` is `before/` after a season's edits: one rule edited, one added, one removed,
# one edited in three parts, one moved to a new file, and six catalogue changes.
BEFORE = DATA / "diff" / "before"
AFTER = DATA / "diff" / "after"
FORESTALL = [sys.executable, "-m", "engine.cli.main"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A private copy of `before/`, free to edit."""
    return Path(shutil.copytree(BEFORE, tmp_path / "rules"))


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not in {path.name} exactly once"
    path.write_text(text.replace(old, new))


def _diff(old: Path, new: Path) -> RuleSetDiff:
    return diff_rule_sets(load_rule_set(old), load_rule_set(new))


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FORESTALL, *args], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_identical_folders_give_no_changes(folder):
    diff = _diff(BEFORE, folder)

    assert (diff.added, diff.removed, diff.changed, diff.moved, diff.catalogue) == ((), (), (), (), ())
    assert diff.unchanged == 5
    assert pretty_report(diff) == f"no changes (5 rules; version {diff.old_version})"


def test_a_comment_changes_the_version_and_nothing_else(folder):
    _edit(folder / "maintenance.yaml", "rules:\n", "# Serviced assets.\nrules:\n")

    diff = _diff(BEFORE, folder)

    assert diff.old_version != diff.new_version
    assert pretty_report(diff) == f"no changes (5 rules; version {diff.old_version} -> {diff.new_version})"


@pytest.mark.parametrize(
    ("old", "new", "change"),
    [
        (
            "something broken gets",
            "damage gets",
            PartChange(
                "description",
                "“A review that mentions something broken gets a replacement offer”",
                "“A review that mentions damage gets a replacement offer”",
            ),
        ),
        (
            "family: problem_prevention",
            "family: planned_purchase",
            PartChange("family", "problem prevention", "planned purchase"),
        ),
        ("offer: replacement", "offer: car-seat-offer", PartChange("offer", "replacement", "car-seat-offer")),
        ("value: 80", "value: 80.5", PartChange("value", "80", "80.5")),
        ("priority: 7", "priority: 9", PartChange("priority", "7", "9")),
        (
            "channels: [email, call_centre]",
            "channels: [email, sms, call_centre]",
            PartChange("channels", "email or call centre", "email, sms or call centre"),
        ),
        (
            "channels: [email, call_centre]",
            "channels: [call_centre, email]",
            PartChange("channels", "email or call centre", "call centre or email"),
        ),
        ("valid_for_days: 14", "valid_for_days: 1", PartChange("validity", "14 days", "1 day")),
    ],
)
def test_each_part_of_a_rule_is_reported_in_words(folder, old, new, change):
    _edit(folder / "problem_prevention.yaml", old, new)

    diff = _diff(BEFORE, folder)

    assert diff.changed == (ChangedRule("broken-on-arrival", "problem_prevention.yaml", (change,)),)
    assert diff.unchanged == 4


def test_a_number_written_differently_is_no_change(folder):
    _edit(folder / "problem_prevention.yaml", "value: 80", "value: 80.0")

    assert _diff(BEFORE, folder).changed == ()


def test_an_edited_condition_shows_old_and_new_on_the_same_fact(folder):
    _edit(folder / "maintenance.yaml", "between: [-60, 30]", "between: [-60, 45]")

    [changed] = _diff(BEFORE, folder).changed

    assert changed.changes == (
        PartChange(
            "conditions",
            "asset days until service is between -60 and 30",
            "asset days until service is between -60 and 45",
            "asset.days_until_service",
        ),
    )


def test_conditions_added_removed_and_swapped_for_another_fact(folder):
    _edit(
        folder / "problem_prevention.yaml",
        "        - fact: event.kind\n          equals: review\n",
        "        - fact: event.kind\n          equals: review\n        - fact: event.days_ago\n          at_most: 7\n",
    )
    _edit(folder / "planned_purchase.yaml", "        - fact: follow_on.days_since_after\n          at_most: 21\n", "")
    _edit(
        folder / "planned_purchase.yaml",
        "        - fact: follow_on.days_until_typical\n          between: [-90, 30]\n",
        "        - fact: follow_on.days_since_after\n          at_least: 180\n",
    )

    changes = {rule.id: rule.changes for rule in _diff(BEFORE, folder).changed}

    assert changes == {
        "stroller-to-car-seat": (
            PartChange("conditions", "follow on days until typical is between -90 and 30", None),
            PartChange("conditions", None, "follow on days since after is at least 180"),
        ),
        "tent-to-sleeping-bag": (PartChange("conditions", "follow on days since after is at most 21", None),),
        "broken-on-arrival": (PartChange("conditions", None, "event days ago is at most 7"),),
    }


def test_an_edited_group_shows_old_and_new_whole(folder):
    _edit(
        folder / "problem_prevention.yaml",
        "              contains: damaged\n",
        "              contains: damaged\n            - fact: event.text\n              contains: cracked\n",
    )

    [changed] = _diff(BEFORE, folder).changed

    assert changed.changes == (
        PartChange(
            "conditions",
            "any of (event text contains “broken”; event text contains “damaged”)",
            "any of (event text contains “broken”; event text contains “damaged”; event text contains “cracked”)",
        ),
    )


def test_reordered_and_regrouped_conditions_are_no_change(folder):
    _edit(
        folder / "problem_prevention.yaml",
        """      all:
        - fact: event.kind
          equals: review
        - any:
            - fact: event.text
              contains: broken
            - fact: event.text
              contains: damaged
""",
        """      all:
        - any:
            - fact: event.text
              contains: damaged
            - fact: event.text
              contains: broken
        - all:
            - fact: event.kind
              equals: review
""",
    )

    assert _diff(BEFORE, folder).changed == ()


def test_the_order_of_one_of_values_is_no_change(tmp_path, folder):
    _edit(folder / "maintenance.yaml", "equals: boiler", "in: [boiler, heat_pump]")
    reordered = Path(shutil.copytree(folder, tmp_path / "reordered"))
    _edit(reordered / "maintenance.yaml", "in: [boiler, heat_pump]", "in: [heat_pump, boiler]")

    assert _diff(folder, reordered).changed == ()


def test_rules_added_and_removed_are_described_whole():
    diff = _diff(BEFORE, AFTER)

    assert diff.added == (
        DescribedRule(
            "boiler-early-reminder",
            "Boiler service due within 120 days",
            "maintenance due",
            "all of: asset category is boiler; asset days until service is between 46 and 120",
            "offer boiler-service-booking, value 50, priority 1, on email, valid 30 days",
            "maintenance.yaml",
        ),
    )
    assert diff.removed == (
        DescribedRule(
            "tent-to-sleeping-bag",
            "Tent bought in the last three weeks and no sleeping bag since",
            "planned purchase",
            "all of: follow on after category is tent; follow on days since after is at most 21; "
            "follow on then purchases is 0",
            "offer sleeping-bag-offer, value 60, priority 2, on email or web, valid 21 days",
            "planned_purchase.yaml",
        ),
    )


def test_a_rule_moved_to_another_file_is_not_a_change(folder):
    maintenance = folder / "maintenance.yaml"
    text = maintenance.read_text()
    heat_pump = text.index("  - id: heat-pump-service-due")
    maintenance.write_text(text[:heat_pump])
    (folder / "heat_pumps.yaml").write_text("rules:\n" + text[heat_pump:])

    diff = _diff(BEFORE, folder)

    assert diff.changed == ()
    assert diff.moved == (MovedRule("heat-pump-service-due", "maintenance.yaml", "heat_pumps.yaml"),)
    assert diff.unchanged == 5
    assert pretty_report(diff).splitlines()[1:] == [
        "> moved   heat-pump-service-due: maintenance.yaml -> heat_pumps.yaml"
    ]


def test_a_moved_and_edited_rule_is_changed_where_it_now_lives(folder):
    maintenance = folder / "maintenance.yaml"
    text = maintenance.read_text()
    heat_pump = text.index("  - id: heat-pump-service-due")
    maintenance.write_text(text[:heat_pump])
    (folder / "heat_pumps.yaml").write_text("rules:\n" + text[heat_pump:].replace("priority: 5", "priority: 6"))

    diff = _diff(BEFORE, folder)

    assert diff.changed == (
        ChangedRule("heat-pump-service-due", "heat_pumps.yaml", (PartChange("priority", "5", "6"),)),
    )
    assert diff.moved == (MovedRule("heat-pump-service-due", "maintenance.yaml", "heat_pumps.yaml"),)


def test_catalogue_entries_added_removed_and_changed():
    diff = _diff(BEFORE, AFTER)

    assert diff.catalogue == (
        CatalogueChange("product", "heat-pump-aw8", "changed", (PartChange("service_interval_days", "730", "365"),)),
        CatalogueChange(
            "follow-on", "stroller then car_seat", "changed", (PartChange("typical_after_days", "270", "240"),)
        ),
        CatalogueChange("follow-on", "tent then sleeping_bag", "removed"),
        CatalogueChange(
            "offer",
            "boiler-service-booking",
            "changed",
            (
                PartChange(
                    "template",
                    "“Hello {customer.first_name}, your {asset.name} is due for its yearly service in "
                    "{asset.days_until_service} days.”",
                    "“Hello {customer.first_name}, your {asset.name} is due for its yearly service in "
                    "{asset.days_until_service} days. Book a visit now.”",
                ),
            ),
        ),
        CatalogueChange(
            "offer",
            "car-seat-offer",
            "changed",
            (PartChange("title", "“Ready for the next stage”", "“Time for a car seat”"),),
        ),
        CatalogueChange("offer", "sleeping-bag-offer", "removed"),
    )


def test_catalogue_entries_added_and_a_consumption_period_set(folder):
    _edit(
        folder / "catalogue.yaml",
        "offers:\n",
        "  - after: boiler\n    then: water_filter\n    typical_after_days: 30\n\n"
        "offers:\n  - id: boiler-cover\n    title: Cover for your boiler\n",
    )
    _edit(folder / "catalogue.yaml", "    category: tent\n", "    category: tent\n    consumption_period_days: 400\n")

    assert _diff(BEFORE, folder).catalogue == (
        CatalogueChange("product", "tent-trail-2p", "changed", (PartChange("consumption_period_days", "none", "400"),)),
        CatalogueChange("follow-on", "boiler then water_filter", "added"),
        CatalogueChange("offer", "boiler-cover", "added"),
    )


EXPECTED_PRETTY = """\
2 rules changed, 1 added, 1 removed, 6 catalogue changes (5 rules; version {old} -> {new})
+ added   boiler-early-reminder: “Boiler service due within 120 days”
          maintenance due rule in maintenance.yaml
          when all of: asset category is boiler; asset days until service is between 46 and 120
          then offer boiler-service-booking, value 50, priority 1, on email, valid 30 days
- removed tent-to-sleeping-bag: “Tent bought in the last three weeks and no sleeping bag since”
          planned purchase rule in planned_purchase.yaml
          when all of: follow on after category is tent; follow on days since after is at most 21; \
follow on then purchases is 0
          then offer sleeping-bag-offer, value 60, priority 2, on email or web, valid 21 days
~ changed boiler-service-due
          description:
            was “Boiler service due within 30 days, or overdue by less than 60”
            now “Boiler service due within 45 days, or overdue by less than 60”
          when: asset days until service is between -60 and 30  ->  … between -60 and 45
          value: 120 -> 150
~ changed broken-on-arrival
          description:
            was “A review that mentions something broken gets a replacement offer”
            now “A review that mentions something broken or cracked gets a replacement offer”
          when:
            was any of (event text contains “broken”; event text contains “damaged”)
            now any of (event text contains “broken”; event text contains “damaged”; event text contains “cracked”)
          channels: email or call centre  ->  call centre or email
> moved   heat-pump-service-due: maintenance.yaml -> heat_pumps.yaml
catalogue:
~ changed product heat-pump-aw8
          service interval days: 730 -> 365
~ changed follow-on stroller then car_seat
          typical after days: 270 -> 240
- removed follow-on tent then sleeping_bag
~ changed offer boiler-service-booking
          template:
            was “Hello {{customer.first_name}}, your {{asset.name}} is due for its yearly service in \
{{asset.days_until_service}} days.”
            now “Hello {{customer.first_name}}, your {{asset.name}} is due for its yearly service in \
{{asset.days_until_service}} days. Book a visit now.”
~ changed offer car-seat-offer
          title: “Ready for the next stage”  ->  “Time for a car seat”
- removed offer sleeping-bag-offer
"""


def test_the_command_reports_what_changed_for_a_business_user():
    result = _run("rules", "diff", "tests/data/diff/before", "tests/data/diff/after")

    assert result.returncode == 0, result.stderr
    versions = {"old": load_rule_set(BEFORE).version, "new": load_rule_set(AFTER).version}
    assert result.stdout == EXPECTED_PRETTY.format(**versions)


def test_the_command_reports_the_same_as_json():
    result = _run("rules", "diff", "tests/data/diff/before", "tests/data/diff/after", "--format", "json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    counts = {key: len(report[key]) for key in ("added", "removed", "changed", "moved", "catalogue")}
    assert counts == {"added": 1, "removed": 1, "changed": 2, "moved": 1, "catalogue": 6}
    assert (report["old_rules"], report["new_rules"], report["unchanged"]) == (5, 5, 2)
    assert report["changed"][0] == {
        "id": "boiler-service-due",
        "file": "maintenance.yaml",
        "changes": [
            {
                "part": "description",
                "old": "“Boiler service due within 30 days, or overdue by less than 60”",
                "new": "“Boiler service due within 45 days, or overdue by less than 60”",
                "fact": None,
            },
            {
                "part": "conditions",
                "old": "asset days until service is between -60 and 30",
                "new": "asset days until service is between -60 and 45",
                "fact": "asset.days_until_service",
            },
            {"part": "value", "old": "120", "new": "150", "fact": None},
        ],
    }
    assert report["moved"] == [
        {"id": "heat-pump-service-due", "old_file": "maintenance.yaml", "new_file": "heat_pumps.yaml"}
    ]
    assert report["catalogue"][2] == {
        "entry": "follow-on",
        "id": "tent then sleeping_bag",
        "change": "removed",
        "changes": [],
    }


def test_the_command_exits_0_when_nothing_changed():
    result = _run("rules", "diff", "tests/data/diff/before", "tests/data/diff/before")

    assert result.returncode == 0
    assert result.stdout == f"no changes (5 rules; version {load_rule_set(BEFORE).version})\n"


def test_the_command_exits_1_with_the_errors_of_each_folder_that_fails_to_load(folder):
    shutil.copy(DATA / "rules" / "mistakes.yaml", folder / "mistakes.yaml")

    pretty = _run("rules", "diff", "tests/data/diff/missing", str(folder))
    as_json = _run("rules", "diff", "tests/data/diff/missing", str(folder), "--format", "json")

    assert pretty.returncode == as_json.returncode == 1
    assert pretty.stdout.startswith("1 error occurred:\ntests/data/diff/missing:1:1: no-folder: ")
    assert f"{folder / 'mistakes.yaml'}:16:11: unknown-operator: unknown operator `greater`" in pretty.stdout
    errors = json.loads(as_json.stdout)["errors"]
    assert errors[0] == {
        "file": "tests/data/diff/missing",
        "line": 1,
        "column": 1,
        "code": "no-folder",
        "message": "the rules folder does not exist",
    }
    assert {(e["line"], e["column"], e["code"]) for e in errors[1:]} >= {(16, 11, "unknown-operator")}


def test_the_help_has_a_worked_example():
    result = _run("rules", "diff", "--help")

    assert result.returncode == 0
    assert "$ forestall rules diff rules-before/ rules/" in result.stdout
    assert "~ changed boiler-service-due" in result.stdout
    assert "exit 0 when the folders were compared, changed or not; 1 when either fails to load" in result.stdout
