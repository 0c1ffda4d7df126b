"""`crm-bot team` and `crm-bot rules` from the shell."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import CliResult

Crm = Callable[..., CliResult]


def test_team_add_list_and_remove(crm: Crm) -> None:
    added = crm(
        "team", "add", "U0MANAGER", "--role", "manager", "--tz", "Asia/Tokyo", "--digest-time", "08:30"
    )
    assert added.exit_code == 0, added.stderr
    crm("team", "add", "U0REP", "--role", "sales")
    listing = crm("team", "list").stdout.splitlines()
    assert listing[0].split("\t")[:3] == ["U0MANAGER", "manager", "Asia/Tokyo"]
    assert listing[0].endswith("08:30")
    assert listing[1].split("\t")[2] == "(from Slack)"
    assert crm("team", "remove", "U0REP").exit_code == 0
    assert len(crm("team", "list").stdout.splitlines()) == 1


def test_team_add_refuses_bad_values_with_one_line(crm: Crm) -> None:
    for args, expected in [
        (("U0X", "--role", "manager", "--tz", "Mars/Base"), "unknown"),
        (("U0X", "--role", "manager", "--digest-time", "25:00"), "HH:MM"),
        (("someone", "--role", "manager"), "not a Slack user id"),
    ]:
        result = crm("team", "add", *args)
        assert result.exit_code == 2
        assert expected in result.stderr
        assert len(result.stderr.splitlines()) == 1
    assert "no team members yet" in crm("team", "list").stdout


def test_rules_add_list_remove(crm: Crm) -> None:
    assert (
        crm("rules", "add", "--on", "first_purchase", "--after", "3d", "--note", "Thank you call").exit_code
        == 0
    )
    assert crm("rules", "add", "--on", "interaction:support", "--after", "1w").exit_code == 0
    lines = crm("rules", "list").stdout.splitlines()
    assert lines[0].endswith("3 days after each first purchase\tThank you call")
    assert "7 days after each interaction support" in lines[1]
    rule_id = lines[0].split("\t")[0]
    assert crm("rules", "remove", rule_id).exit_code == 0
    assert len(crm("rules", "list").stdout.splitlines()) == 1
    bad = crm("rules", "add", "--on", "birthday", "--after", "3d")
    assert bad.exit_code == 2 and "trigger 'birthday'" in bad.stderr
