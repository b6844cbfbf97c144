"""`forestall rules test`: tests next to the rules, run through the real decision path, OPA's manners."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import pytest

from engine.errors import RuleSetInvalid
from engine.events import LineItem, OrderStatus, ProfileUpdate, Purchase, Review
from engine.qa import load_rule_tests, rule_tests
from engine.ruleset.loader import load_rule_set
from tests.conftest import DATA, REPO, RULES

FORESTALL = [sys.executable, "-m", "engine.cli.main"]
CASES = DATA / "rule_tests"
# Relative to the repository, as a user types them: they appear in the output as given.
FAILING = "tests/data/rule_tests/failing"
BROKEN = "tests/data/rule_tests/broken"
SEPARATOR = "-" * 80


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FORESTALL, "rules", "test", *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_the_sample_tests_pass():
    result = _run("rules")

    lines = result.stdout.splitlines()
    count = len(load_rule_tests(RULES / "tests", load_rule_set(RULES)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines[-2:] == [SEPARATOR, f"{count} passed, 0 failed"]
    assert len(lines) == count + 2
    assert all(line.startswith("PASS rules/tests/") for line in lines[:-2])
    assert result.stderr == ""


def test_every_sample_rule_has_a_test_that_expects_it_and_one_that_does_not():
    tests = [test.spec for test in load_rule_tests(RULES / "tests", load_rule_set(RULES))]

    for rule in load_rule_set(RULES).rules:
        assert any(rule.rule.id in spec.expect for spec in tests), rule.rule.id
        assert any(rule.rule.id in spec.expect_not for spec in tests), rule.rule.id


def test_wrong_expectations_fail_with_exit_2_and_explain_themselves():
    result = _run("rules", "--tests", FAILING)

    file = f"{FAILING}/wrong_expectations.yaml"
    assert result.returncode == 2
    assert result.stdout == textwrap.dedent(f"""\
        FAIL {file}:4: a boiler bought 350 days ago is wrongly expected to get nothing
          as of 2026-06-01T09:00:00+00:00, with 1 event
          expected boiler-service-due to propose nothing: it proposed boiler-service-booking
          actions:
            boiler-service-due -> boiler-service-booking via email
              because asset.category=boiler, asset.days_until_service=15
        FAIL {file}:10: a boiler bought 100 days ago is wrongly expected to be due
          as of 2026-06-01T09:00:00+00:00, with 1 event
          expected boiler-service-due to propose an action: it proposed none
            it read asset.category=boiler, asset.days_until_service=265
          actions: none
        FAIL {file}:16: a delayed order is wrongly expected to be offered a replacement
          as of 2026-06-01T09:00:00+00:00, with 1 event
          expected an action offering replacement: none did
          actions:
            delayed-order-apology -> delay-apology via email
              because event.kind=order_status, event.state=delayed, event.days_ago=1
        FAIL {file}:22: a printer owner without ink is wrongly expected to get nothing
          as of 2026-06-01T09:00:00+00:00, with 1 event
          expected no action: 1 was proposed
          actions:
            printer-without-ink -> ink-for-printer via email
              because asset.category=printer, category.name=printer_ink, \
category.days_since_last_purchase=(none), category.purchase_count=0
        FAIL {file}:28: a heat pump check is wrongly expected of a customer who owns nothing
          as of 2026-06-01T09:00:00+00:00, with 1 event
          expected heat-pump-service-due to propose an action: it proposed none; \
the customer has no asset for it to read
          actions:
            coffee-running-out -> coffee-refill via email
              because consumable.category=coffee, consumable.days_until_runout=0
        PASS {file}:34: a stroller bought 250 days ago leads to a car seat offer
        {SEPARATOR}
        1 passed, 5 failed
        """)


def test_json_output_has_the_counts_and_each_test_with_its_expectations_actions_and_failures():
    result = _run("rules", "--tests", FAILING, "--format", "json")

    report = json.loads(result.stdout)
    assert result.returncode == 2
    assert report["rules_version"] == load_rule_set(RULES).version
    assert (report["passed"], report["failed"], report["errors"]) == (1, 5, [])
    assert [t["passed"] for t in report["tests"]] == [False, False, False, False, False, True]
    assert report["tests"][0] == {
        "name": "a boiler bought 350 days ago is wrongly expected to get nothing",
        "file": f"{FAILING}/wrong_expectations.yaml",
        "line": 4,
        "as_of": "2026-06-01T09:00:00+00:00",
        "passed": False,
        "expected": {"expect": [], "expect_not": ["boiler-service-due"], "expect_offers": [], "expect_empty": False},
        "actions": [
            {
                "rule_id": "boiler-service-due",
                "offer_id": "boiler-service-booking",
                "channel": "email",
                "matched_facts": {"asset.category": "boiler", "asset.days_until_service": "15"},
            }
        ],
        "failures": [
            {
                "expectation": "expect_not",
                "subject": "boiler-service-due",
                "message": "expected boiler-service-due to propose nothing: it proposed boiler-service-booking",
                "facts": [],
            }
        ],
    }
    assert report["tests"][1]["failures"] == [
        {
            "expectation": "expect",
            "subject": "boiler-service-due",
            "message": "expected boiler-service-due to propose an action: it proposed none",
            "facts": [{"asset.category": "boiler", "asset.days_until_service": "265"}],
        }
    ]


def test_broken_test_files_exit_1_with_every_error_located():
    result = _run("rules", "--tests", BROKEN)

    mistakes = f"{BROKEN}/mistakes.yaml"
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "11 errors occurred:",
        f"{BROKEN}/bad_date.yaml:6:13: invalid-value: `2026-02-30` is not a valid date: day is out of range for month",
        f"{mistakes}:7:9: unknown-field: unknown field `purchse` in tests[0].history[0]; did you mean `purchase`?",
        f"{mistakes}:12:9: invalid-value: tests[1].history[0].at: Input should be a valid datetime or date, "
        "invalid character in year",
        f"{mistakes}:19:29: unknown-field: unknown field `txt` in tests[2].history[0].review; did you mean `text`?",
        f"{mistakes}:20:5: unknown-field: unknown field `expct` in tests[2]; did you mean `expect`?",
        f"{mistakes}:25:18: invalid-value: tests[3].history[0].review.rating: Input should be less than or equal to 5",
        f"{mistakes}:27:9: invalid-value: tests[3].history[1].order_status: `delayd` is not one of 'placed', "
        "'delayed', 'shipped', 'delivered' or 'cancelled'; did you mean `delayed`?",
        f"{mistakes}:32:9: invalid-value: tests[4].history[0]: say when it happened with either `days_ago` or `at`",
        f"{mistakes}:39:14: unknown-rule: unknown rule `unhappy-reviewer-cal`; did you mean `unhappy-reviewer-call`?",
        f"{mistakes}:40:21: unknown-offer: offer `care-cal` is not in the catalogue; did you mean `care-call`?",
        f"{mistakes}:42:5: duplicate-name: test `a misspelt rule and offer` is defined at {mistakes}:35 too",
    ]


def test_broken_test_files_in_json_list_the_errors_and_no_tests():
    result = _run("rules", "--tests", BROKEN, "--format", "json")

    report = json.loads(result.stdout)
    assert result.returncode == 1
    assert (report["rules_version"], report["passed"], report["failed"], report["tests"]) == (None, 0, 0, [])
    assert len(report["errors"]) == 11
    assert report["errors"][0] == {
        "file": f"{BROKEN}/bad_date.yaml",
        "line": 6,
        "column": 13,
        "code": "invalid-value",
        "message": "`2026-02-30` is not a valid date: day is out of range for month",
    }


def test_a_broken_rules_folder_exits_1_with_its_errors(rules_dir):
    shutil.copy(DATA / "rules" / "mistakes.yaml", rules_dir / "mistakes.yaml")

    result = _run(str(rules_dir))

    assert result.returncode == 1
    assert result.stdout.splitlines()[0].endswith("errors occurred:")
    assert f"{rules_dir / 'mistakes.yaml'}:7:11: unknown-fact: unknown fact `asset.days_until_servce`" in result.stdout


def test_a_missing_tests_folder_exits_1(tmp_path):
    result = _run("rules", "--tests", str(tmp_path / "nowhere"))

    assert result.returncode == 1
    assert (
        result.stdout == f"1 error occurred:\n{tmp_path / 'nowhere'}:1:1: no-folder: the tests folder does not exist\n"
    )


def test_a_key_at_the_wrong_level_is_told_where_it_goes(tmp_path):
    path = tmp_path / "misplaced.yaml"
    path.write_text(
        textwrap.dedent("""\
            as_of: 2026-06-01T09:00:00Z
            tests:
              - name: days_ago written beside the history, not in its entry
                days_ago: 350
                history:
                  - {days_ago: 350, purchase: boiler-ecotherm-30}
                expect: [boiler-service-due]
            """)
    )

    with pytest.raises(RuleSetInvalid) as refused:
        load_rule_tests(tmp_path, load_rule_set(RULES))

    assert [str(e) for e in refused.value.errors] == [
        f"{path}:4:5: unknown-field: unknown field `days_ago` in tests[0]; `days_ago` goes under `history:`"
    ]


def test_run_keeps_only_the_tests_whose_name_contains_it():
    result = _run("rules", "--run", "boiler")

    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "PASS rules/tests/maintenance.yaml:5: a boiler bought 350 days ago is due for its service",
        "PASS rules/tests/maintenance.yaml:14: a boiler bought 100 days ago is not due yet",
        "PASS rules/tests/maintenance.yaml:20: a boiler overdue by 50 days is still reminded",
        "PASS rules/tests/maintenance.yaml:26: a boiler overdue by 70 days is left alone",
        "PASS rules/tests/maintenance.yaml:32: a service visit resets the boiler's clock",
        SEPARATOR,
        "5 passed, 0 failed",
    ]


def test_run_that_matches_no_test_exits_1_as_nothing_was_tested():
    result = _run("rules", "--tests", FAILING, "--run", "no such test")

    assert result.returncode == 1
    assert result.stdout == f"1 error occurred:\n{FAILING}:1:1: no-match: no test name contains `no such test`\n"


def test_the_touchpoint_channel_and_context_reach_the_rules(rules_dir):
    shutil.copy(CASES / "touchpoint" / "till_rule.yaml", rules_dir / "till_rule.yaml")

    result = _run(str(rules_dir), "--tests", str(CASES / "touchpoint" / "tests"), "--format", "json")

    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout
    assert (report["passed"], report["failed"]) == (3, 0)
    [at_the_till] = report["tests"][0]["actions"]
    assert at_the_till["channel"] == "pos"
    assert at_the_till["matched_facts"] == {
        "asset.category": "boiler",
        "touchpoint.channel": "pos",
        "context.campaign": "spring",
    }


def test_the_documented_example_file_passes(tmp_path):
    doc = rule_tests.__doc__ or ""
    example = doc[doc.index("A file:") + len("A file:") : doc.index("Each history entry")]
    (tmp_path / "example.yaml").write_text(textwrap.dedent(example).strip() + "\n")

    result = _run("rules", "--tests", str(tmp_path))

    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1] == "2 passed, 0 failed"


def test_history_entries_become_the_events_a_calling_system_would_send():
    [test] = load_rule_tests(CASES / "events", load_rule_set(RULES))

    as_of = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    assert test.as_of == as_of
    assert [(e.event_id, e.customer_id, e.occurred_at, e.payload) for e in test.events] == [
        ("history-001", "rule-test-customer", datetime(2026, 1, 10, tzinfo=UTC), ProfileUpdate(first_name="Ada")),
        (
            "history-002",
            "rule-test-customer",
            as_of - timedelta(days=30),
            Purchase(
                items=[
                    LineItem(product_id="printer-deskjet-2720", quantity=1, unit_price=0),
                    LineItem(product_id="ink-305-black", quantity=2, unit_price=24.5),
                ]
            ),
        ),
        (
            "history-003",
            "rule-test-customer",
            as_of - timedelta(days=0.5),
            OrderStatus(order_id="order", state="delayed"),
        ),
        (
            "history-004",
            "rule-test-customer",
            datetime(2026, 5, 31, 18, 30, tzinfo=UTC),
            Review(product_id="ink-305-black", rating=1, text="arrived broken"),
        ),
    ]


def test_a_rule_reading_model_scores_is_tested_with_the_scores_the_test_states(rules_dir):
    shutil.copy(CASES / "scores" / "score_rules.yaml", rules_dir / "score_rules.yaml")

    result = _run(str(rules_dir), "--tests", str(CASES / "scores" / "tests"), "--format", "json")

    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stdout
    assert (report["passed"], report["failed"]) == (4, 0)
    [win_back] = [a for a in report["tests"][0]["actions"] if a["rule_id"] == "lapsing-regular-win-back"]
    assert win_back["channel"] == "sms"  # the stated response scores rank the channels
    assert win_back["matched_facts"]["score.churn"] == "0.85"
    [soon] = [a for a in report["tests"][2]["actions"] if a["rule_id"] == "coffee-soon-by-model"]
    assert soon["matched_facts"] == {"consumable.category": "coffee", "score.next_purchase_days": "4"}


def test_a_failing_score_rule_shows_the_score_it_read_absent_or_as_stated(rules_dir, tmp_path):
    shutil.copy(CASES / "scores" / "score_rules.yaml", rules_dir / "score_rules.yaml")
    shutil.copy(CASES / "scores" / "failing.yaml", tmp_path / "failing.yaml")

    result = _run(str(rules_dir), "--tests", str(tmp_path))

    assert result.returncode == 2
    assert "expected lapsing-regular-win-back to propose an action: it proposed none" in result.stdout
    assert "it read customer.purchases_last_365_days=2, score.churn=(none)\n" in result.stdout
    assert "it read customer.purchases_last_365_days=2, score.churn=0.2\n" in result.stdout  # as stated


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ("{churn: high}", "scores.churn"),
        ("{Churn: 0.5}", "scores"),
        ("{next_purchase: {coffee: .nan}}", "scores.next_purchase"),
    ],
)
def test_scores_that_are_not_numbers_by_score_names_are_refused_where_written(tmp_path, scores, message):
    (tmp_path / "bad.yaml").write_text(
        "as_of: 2026-06-01T09:00:00Z\ntests:\n  - name: bad scores\n"
        f"    scores: {scores}\n    expect: [boiler-service-due]\n"
    )

    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_tests(tmp_path, load_rule_set(RULES))

    errors = raised.value.errors
    assert {(error.file, error.line) for error in errors} == {(str(tmp_path / "bad.yaml"), 4)}
    assert any(message in error.message for error in errors), errors
