from __future__ import annotations

import hashlib
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cxpulse_alerts.domain.ownership import (
    DEFAULT_GROUP_INTERVAL,
    DEFAULT_GROUP_WAIT,
    DEFAULT_REPEAT_INTERVAL,
    Ownership,
    OwnershipFileInvalid,
    format_duration,
    load_ownership,
    parse_duration,
    parse_matcher,
    parse_ownership,
)
from cxpulse_alerts.receivers.config import (
    AlertmanagerReceiver,
    LogReceiver,
    PagerDutyReceiver,
    SlackReceiver,
    WebhookReceiver,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_ENVIRONMENT = {
    "CARE_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/care",
    "BAGGAGE_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/baggage",
    "CARE_LEADS_PAGERDUTY_KEY": "care-leads-routing-key",
    "PR_PAGERDUTY_KEY": "pr-routing-key",
    "PRODUCT_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}

ROUTING_TREE = """\
receivers:
  - {name: care-log, type: log, path: care.ndjson}
  - {name: baggage-log, type: log, path: baggage.ndjson}
  - {name: pr-log, type: log, path: pr.ndjson}
  - {name: product-log, type: log, path: product.ndjson}
  - {name: leads-log, type: log, path: leads.ndjson}
teams:
  - {name: care, receivers: [care-log], escalation_receivers: [leads-log], acknowledge_within: 15m}
  - {name: baggage-care, receivers: [baggage-log, care-log], acknowledge_within: 30m}
  - {name: pr, receivers: [pr-log], acknowledge_within: 10m}
  - {name: product, receivers: [product-log]}
route:
  team: care
  group_by: [brand]
  routes:
    - matchers: ['severity>=4']
      team: pr
      group_wait: 10s
      continue: true
    - matchers: ['brand="acme-air"', 'stage=~"baggage|airport"']
      team: baggage-care
      group_by: [brand, stage]
      routes:
        - matchers: ['topic="idea"']
          team: product
        - matchers: ['severity<=1']
          group_interval: 1h
    - matchers: ['topic="idea"']
      team: product
      repeat_interval: 1d
    - matchers: ['brand=~"globex-.*"', 'channel!="demo"', 'platform!~"x|reddit"']
      group_interval: 10m
"""


@pytest.fixture(scope="module")
def ownership() -> Ownership:
    return parse_ownership(ROUTING_TREE, path="routing.yaml", environ={})


def line_of(text: str, fragment: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if fragment in line)


ROUTING_CASES: list[tuple[str, dict[str, Any], list[str], list[str]]] = [
    ("no labels: the root's team", {}, ["care"], ["route"]),
    ("unmatched brand: the root's team", {"brand": "initech", "severity": 2}, ["care"], ["route"]),
    ("one matcher of two is not enough", {"brand": "acme-air", "stage": "flight"}, ["care"], ["route"]),
    (
        "a specific route takes it",
        {"brand": "acme-air", "stage": "baggage", "severity": 2},
        ["baggage-care"],
        ["route.routes[1]"],
    ),
    (
        "continue: PR and the specific route",
        {"brand": "acme-air", "stage": "airport", "severity": 5},
        ["pr", "baggage-care"],
        ["route.routes[0]", "route.routes[1]"],
    ),
    (
        "a matched continue route counts: the root keeps nothing",
        {"brand": "initech", "severity": 4},
        ["pr"],
        ["route.routes[0]"],
    ),
    (
        "first match without continue stops its siblings",
        {"brand": "acme-air", "stage": "baggage", "topic": "idea", "severity": 2},
        ["product"],
        ["route.routes[1].routes[0]"],
    ),
    ("a later sibling takes what earlier ones did not", {"topic": "idea"}, ["product"], ["route.routes[2]"]),
    ("regex anchored at the end", {"brand": "acme-air", "stage": "baggage-claim"}, ["care"], ["route"]),
    ("regex anchored at the start", {"brand": "my-globex-shop", "channel": "web"}, ["care"], ["route"]),
    ("equality is exact", {"brand": "acme-air-cargo", "stage": "baggage"}, ["care"], ["route"]),
    ("regex matches the whole value", {"brand": "globex-shop", "channel": "web"}, ["care"], ["route.routes[3]"]),
    ("an absent label reads as empty for !=", {"brand": "globex-air"}, ["care"], ["route.routes[3]"]),
    ("!= excludes", {"brand": "globex-air", "channel": "demo"}, ["care"], ["route"]),
    ("!~ excludes", {"brand": "globex-air", "platform": "reddit"}, ["care"], ["route"]),
    ("!~ is anchored too", {"brand": "globex-air", "platform": "xing"}, ["care"], ["route.routes[3]"]),
    ("severity below the threshold", {"severity": 3}, ["care"], ["route"]),
    ("severity at the threshold", {"severity": 4}, ["pr"], ["route.routes[0]"]),
    ("severity given as text", {"severity": "5"}, ["pr"], ["route.routes[0]"]),
    (
        "severity<=1 in a nested route",
        {"brand": "acme-air", "stage": "baggage", "severity": 1},
        ["baggage-care"],
        ["route.routes[1].routes[1]"],
    ),
    (
        "any of several stages matches",
        {"brand": "acme-air", "stage": ["flight", "baggage"]},
        ["baggage-care"],
        ["route.routes[1]"],
    ),
    ("any of several topics matches", {"topic": ["delay", "idea"]}, ["product"], ["route.routes[2]"]),
    ("an empty list is an absent label", {"brand": "acme-air", "stage": []}, ["care"], ["route"]),
    ("None is an absent label", {"brand": "globex-air", "channel": None}, ["care"], ["route.routes[3]"]),
]


@pytest.mark.parametrize(
    ("labels", "teams", "paths"),
    [pytest.param(labels, teams, paths, id=name) for name, labels, teams, paths in ROUTING_CASES],
)
def test_routing(ownership: Ownership, labels: dict[str, Any], teams: list[str], paths: list[str]) -> None:
    result = ownership.route(labels)

    assert result.teams == teams
    assert [route.path for route in result.matched_routes] == paths


def test_receivers_are_the_teams_receivers_in_order_without_repeats(ownership: Ownership) -> None:
    result = ownership.route({"brand": "acme-air", "stage": "baggage", "severity": 5})

    assert result.receivers == ["pr-log", "baggage-log", "care-log"]
    assert result.escalation_receivers == []
    assert result.acknowledge_within == timedelta(minutes=10)


def test_default_owner_escalates(ownership: Ownership) -> None:
    result = ownership.route({})

    assert result.receivers == ["care-log"]
    assert result.escalation_receivers == ["leads-log"]
    assert result.acknowledge_within == timedelta(minutes=15)


def test_no_deadline_when_no_owning_team_sets_one(ownership: Ownership) -> None:
    assert ownership.route({"topic": "idea"}).acknowledge_within is None


def test_matched_routes_carry_their_lines(ownership: Ownership) -> None:
    result = ownership.route({"brand": "acme-air", "stage": "baggage", "severity": 5})

    assert [route.line for route in result.matched_routes] == [
        line_of(ROUTING_TREE, "severity>=4"),
        line_of(ROUTING_TREE, 'brand="acme-air"'),
    ]
    assert ownership.root.line == line_of(ROUTING_TREE, "team: care")


def test_timers_and_group_by_are_inherited_unless_overridden(ownership: Ownership) -> None:
    root = ownership.root
    severe, baggage, idea, globex = root.routes
    baggage_idea, baggage_minor = baggage.routes

    assert (root.group_wait, root.group_interval, root.repeat_interval) == (
        DEFAULT_GROUP_WAIT,
        DEFAULT_GROUP_INTERVAL,
        DEFAULT_REPEAT_INTERVAL,
    )
    assert severe.group_wait == timedelta(seconds=10)
    assert severe.group_by == ("brand",)
    assert baggage.group_wait == DEFAULT_GROUP_WAIT
    assert baggage_idea.group_by == ("brand", "stage")
    assert baggage_idea.repeat_interval == DEFAULT_REPEAT_INTERVAL
    assert baggage_minor.team == "baggage-care"
    assert baggage_minor.group_interval == timedelta(hours=1)
    assert idea.repeat_interval == timedelta(days=1)
    assert idea.group_by == ("brand",)
    assert globex.team == "care"
    assert globex.group_interval == timedelta(minutes=10)


def test_top_level_timers_are_the_first_matched_routes(ownership: Ownership) -> None:
    result = ownership.route({"brand": "acme-air", "stage": "baggage", "severity": 5})

    assert result.group_wait == timedelta(seconds=10)
    assert result.group_by == ["brand"]
    assert result.matched_routes[1].group_by == ("brand", "stage")
    assert result.matched_routes[1].group_wait == DEFAULT_GROUP_WAIT


MATCHER_CASES: list[tuple[str, tuple[str, ...], bool]] = [
    ('stage="baggage"', ("flight", "baggage"), True),
    ('stage!="baggage"', ("flight", "baggage"), False),
    ('stage!="baggage"', ("flight",), True),
    ('stage=~"bag.*"', ("flight", "baggage"), True),
    ('stage!~"bag.*"', ("flight", "baggage"), False),
    ('stage=~"bag"', ("baggage",), False),
    ('stage=~""', ("",), True),
    ('channel=""', ("",), True),
    ("severity>=4", ("4",), True),
    ("severity>=4", ("3",), False),
    ("severity>4", ("4",), False),
    ("severity>4", ("5",), True),
    ("severity<=2", ("2",), True),
    ("severity<=2", ("3",), False),
    ("severity<2", ("1",), True),
    ("severity<2", ("2",), False),
    ("severity<5", ("",), False),
    ('severity="3"', ("3",), True),
    ("brand = acme-air", ("acme-air",), True),
    (r'topic=~"lost\.luggage"', ("lost-luggage",), False),
    (r'topic=~"lost\.luggage"', ("lost.luggage",), True),
    (r'brand="say \"hi\""', ('say "hi"',), True),
]


@pytest.mark.parametrize(("text", "values", "expected"), MATCHER_CASES)
def test_matcher(text: str, values: tuple[str, ...], expected: bool) -> None:
    assert parse_matcher(text).matches(values) is expected


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("brand = acme-air", 'brand="acme-air"'),
        ("severity >= 04", "severity>=4"),
        (r'stage=~"a\.b"', r'stage=~"a\\.b"'),
    ],
)
def test_matcher_prints_canonically(text: str, canonical: str) -> None:
    assert str(parse_matcher(text)) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('brand~"x"', "bad matcher"),
        ("brand", "bad matcher"),
        ('stage=~"(baggage"', "invalid regex"),
        ('region="emea"', "unknown label 'region'"),
        ("brand>=3", "only severity compares as a number"),
        ("severity>=high", "whole number"),
        ('brand="acme', "missing closing quote"),
        ('brand="ac"me"', "unescaped double quote"),
    ],
)
def test_bad_matchers(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_matcher(text)


@pytest.mark.parametrize(
    ("text", "duration"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("4h", timedelta(hours=4)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("500ms", timedelta(milliseconds=500)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("0s", timedelta(0)),
    ],
)
def test_durations(text: str, duration: timedelta) -> None:
    assert parse_duration(text) == duration
    assert parse_duration(format_duration(duration)) == duration


@pytest.mark.parametrize("text", ["", "30", "1.5h", "30 seconds", "5M", "m", "30m5h", "-5m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


VALID_HEAD = """\
receivers:
  - {name: care-log, type: log, path: care.ndjson}
teams:
  - {name: care, receivers: [care-log]}
"""

# Each document marks the line its error must name with `# <-`.
INVALID_FILES: list[tuple[str, str, str]] = [
    (
        "unknown top-level key",
        VALID_HEAD + "route: {team: care}\nsilences: []  # <-\n",
        "unknown key 'silences'",
    ),
    (
        "unknown team key",
        "receivers: []\nteams:\n  - name: care\n    pager: x  # <-\nroute: {team: care}\n",
        "unknown key 'pager'",
    ),
    (
        "unknown route key",
        VALID_HEAD + "route:\n  team: care\n  routes:\n    - matchers: ['brand=\"a\"']\n      recevier: x  # <-\n",
        "unknown key 'recevier'",
    ),
    (
        "team with an unknown receiver",
        "receivers:\n  - {name: care-log, type: log, path: a}\nteams:\n"
        "  - name: care\n    receivers:\n      - care-log\n      - care-slack  # <-\nroute: {team: care}\n",
        "unknown receiver 'care-slack'",
    ),
    (
        "unknown escalation receiver",
        "receivers:\n  - {name: care-log, type: log, path: a}\nteams:\n  - name: care\n"
        "    escalation_receivers: [leads]  # <-\n    acknowledge_within: 5m\nroute: {team: care}\n",
        "unknown receiver 'leads'",
    ),
    (
        "route naming an unknown team",
        VALID_HEAD + "route:\n  team: care\n  routes:\n    - matchers: ['severity>=4']\n      team: pr  # <-\n",
        "unknown team 'pr'",
    ),
    (
        "root naming an unknown team",
        VALID_HEAD + "route:\n  team: carre  # <-\n",
        "unknown team 'carre'",
    ),
    (
        "duplicate receiver",
        "receivers:\n  - {name: care-log, type: log, path: a}\n  - name: care-log  # <-\n    type: log\n"
        "    path: b\nteams: [{name: care}]\nroute: {team: care}\n",
        "receiver 'care-log' is defined twice",
    ),
    (
        "duplicate team",
        VALID_HEAD + "  - name: care  # <-\nroute: {team: care}\n",
        "team 'care' is defined twice",
    ),
    (
        "duplicate key",
        VALID_HEAD + "route:\n  team: care\n  group_wait: 30s\n  group_wait: 1m  # <-\n",
        "'group_wait' appears twice",
    ),
    (
        "bad matcher syntax",
        VALID_HEAD + "route:\n  team: care\n  routes:\n    - matchers:\n        - 'brand~\"x\"'  # <-\n",
        "bad matcher",
    ),
    (
        "invalid regex",
        VALID_HEAD + "route:\n  team: care\n  routes:\n    - matchers: ['stage=~\"(bag\"']  # <-\n",
        "invalid regex",
    ),
    (
        "unknown matcher label",
        VALID_HEAD + "route:\n  team: care\n  routes:\n    - matchers: ['region=\"emea\"']  # <-\n",
        "unknown label 'region'",
    ),
    (
        "matchers not a list",
        VALID_HEAD + "route:\n  team: care\n  routes:\n    - matchers: 'brand=\"a\"'  # <-\n",
        "expected a list",
    ),
    (
        "bad duration",
        VALID_HEAD + "route:\n  team: care\n  group_wait: 30 seconds  # <-\n",
        "route.group_wait: bad duration",
    ),
    (
        "duration without a unit",
        VALID_HEAD + "route:\n  team: care\n  routes:\n    - repeat_interval: 4  # <-\n",
        "route.routes[0].repeat_interval: expected a duration",
    ),
    (
        "zero group_interval",
        VALID_HEAD + "route:\n  team: care\n  group_interval: 0s  # <-\n",
        "longer than zero",
    ),
    (
        "bad acknowledge_within",
        "receivers: []\nteams:\n  - name: care\n    acknowledge_within: soon  # <-\nroute: {team: care}\n",
        "acknowledge_within: bad duration",
    ),
    (
        "escalation without a deadline",
        "receivers:\n  - {name: leads, type: log, path: a}\nteams:\n  - name: care\n"
        "    escalation_receivers: [leads]  # <-\nroute: {team: care}\n",
        "need acknowledge_within",
    ),
    (
        "unknown group_by label",
        VALID_HEAD + "route:\n  team: care\n  group_by:\n    - brand\n    - region  # <-\n",
        "unknown label 'region'",
    ),
    (
        "continue not a boolean",
        VALID_HEAD + "route:\n  team: care\n  routes:\n    - team: care\n      continue: maybe  # <-\n",
        "expected true or false",
    ),
    (
        "matchers on the root",
        VALID_HEAD + "route:\n  team: care\n  matchers: ['brand=\"a\"']  # <-\n",
        "root route takes every incident",
    ),
    (
        "root without a team",
        VALID_HEAD + "route:\n  group_wait: 30s  # <-\n",
        "missing team",
    ),
    (
        "missing section",
        "receivers: []  # <-\nteams: [{name: care}]\n",
        "missing route",
    ),
    (
        "no teams",
        "receivers: []\nteams: []  # <-\nroute: {team: care}\n",
        "at least one team",
    ),
    (
        "bad team name",
        "receivers: []\nteams:\n  - name: Care Team  # <-\nroute: {team: care}\n",
        "is not a name",
    ),
    (
        "receiver missing a required field",
        "receivers:\n  - name: pr-pagerduty  # <-\n    type: pagerduty\nteams: [{name: care}]\nroute: {team: care}\n",
        "receivers[0] (pr-pagerduty): routing_key: Field required",
    ),
    (
        "receiver with an invalid field",
        "receivers:\n  - name: product\n    type: webhook\n    url: not-a-url  # <-\n    secret: s\n"
        "teams: [{name: care}]\nroute: {team: care}\n",
        "url: ",
    ),
    (
        "receiver of an unknown type",
        "receivers:\n  - name: sms\n    type: sms  # <-\nteams: [{name: care}]\nroute: {team: care}\n",
        "does not match any of the expected tags",
    ),
    (
        "receiver with an unknown key",
        "receivers:\n  - name: care-log\n    type: log\n    path: a\n    colour: red  # <-\n"
        "teams: [{name: care}]\nroute: {team: care}\n",
        "unknown key 'colour'",
    ),
    (
        "receiver with a bad name",
        "receivers:\n  - name: Care Log  # <-\n    type: log\n    path: a\nteams: [{name: care}]\n"
        "route: {team: care}\n",
        "receivers[0] (Care Log): name:",
    ),
    (
        "not YAML",
        VALID_HEAD + "route:\n  team: care\n\tgroup_wait: 30s  # <-\n",
        "not valid YAML",
    ),
    (
        "a list instead of a mapping",
        "- receivers  # <-\n",
        "expected a mapping",
    ),
]


@pytest.mark.parametrize(
    ("document", "message"),
    [pytest.param(document, message, id=name) for name, document, message in INVALID_FILES],
)
def test_errors_name_the_line(document: str, message: str) -> None:
    with pytest.raises(OwnershipFileInvalid) as raised:
        parse_ownership(document, path="ownership.yaml", environ={})

    error = raised.value
    assert message in error.message
    assert error.line == line_of(document, "# <-")
    assert error.path == Path("ownership.yaml")
    assert str(error).startswith(f"ownership.yaml:{error.line}: ")


def test_empty_file_is_invalid_at_line_one() -> None:
    with pytest.raises(OwnershipFileInvalid, match="empty") as raised:
        parse_ownership("# nothing yet\n", environ={})
    assert raised.value.line == 1


def test_unreadable_file_has_no_line(tmp_path: Path) -> None:
    with pytest.raises(OwnershipFileInvalid, match="cannot read") as raised:
        load_ownership(tmp_path / "missing.yaml", environ={})
    assert raised.value.line is None


def test_receiver_errors_never_echo_secrets() -> None:
    document = (
        "receivers:\n  - name: pr\n    type: pagerduty\n    routing_key: ${PR_KEY}\n    url: ${PR_URL}\n"
        "teams: [{name: care}]\nroute: {team: care}\n"
    )
    with pytest.raises(OwnershipFileInvalid) as raised:
        parse_ownership(document, environ={"PR_KEY": "hunter2-routing-key", "PR_URL": "hunter2-not-a-url"})

    assert "hunter2" not in str(raised.value)
    assert raised.value.line == line_of(document, "url:")


ENVIRONMENT_FILE = """\
# Secrets: ${NOT_SET_ANYWHERE} in a comment is never filled.
receivers:
  - name: care-slack
    type: slack
    url: "${CARE_SLACK_URL}"  # and ${NEITHER_IN_A_TRAILING_COMMENT}
  - name: care-log
    type: log
    path: ${RUN_DIR:-/tmp/cxpulse}/notifications.ndjson
teams: [{name: care, receivers: [care-slack, care-log]}]
route: {team: care}
"""


def test_environment_fills_values_and_ignores_comments() -> None:
    ownership = parse_ownership(ENVIRONMENT_FILE, environ={"CARE_SLACK_URL": "https://hooks.slack.com/x"})

    slack = ownership.receivers["care-slack"]
    log = ownership.receivers["care-log"]
    assert isinstance(slack, SlackReceiver)
    assert slack.url.get_secret_value() == "https://hooks.slack.com/x"
    assert isinstance(log, LogReceiver)
    assert log.path == "/tmp/cxpulse/notifications.ndjson"


@pytest.mark.parametrize(("run_dir", "path"), [("/srv/run", "/srv/run"), ("", "/tmp/cxpulse")])
def test_default_applies_when_the_variable_is_empty(run_dir: str, path: str) -> None:
    environ = {"CARE_SLACK_URL": "https://hooks.slack.com/x", "RUN_DIR": run_dir}
    log = parse_ownership(ENVIRONMENT_FILE, environ=environ).receivers["care-log"]

    assert isinstance(log, LogReceiver)
    assert log.path == f"{path}/notifications.ndjson"


def test_missing_variable_is_named_with_its_line() -> None:
    with pytest.raises(OwnershipFileInvalid, match="environment variable CARE_SLACK_URL is not set") as raised:
        parse_ownership(ENVIRONMENT_FILE, path="ownership.yaml", environ={})

    assert raised.value.line == line_of(ENVIRONMENT_FILE, 'url: "${CARE_SLACK_URL}"')


def test_environment_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARE_SLACK_URL", "https://hooks.slack.com/from-env")

    slack = parse_ownership(ENVIRONMENT_FILE).receivers["care-slack"]

    assert isinstance(slack, SlackReceiver)
    assert slack.url.get_secret_value() == "https://hooks.slack.com/from-env"


def test_digest_is_the_files_sha256_and_follows_changes(tmp_path: Path) -> None:
    path = tmp_path / "ownership.yaml"
    path.write_text(ROUTING_TREE)
    first = load_ownership(path, environ={})
    path.write_text(ROUTING_TREE.replace("group_wait: 10s", "group_wait: 20s"))
    second = load_ownership(path, environ={})

    assert first.digest == hashlib.sha256(ROUTING_TREE.encode()).hexdigest()
    assert second.digest != first.digest
    assert first.path == path


def test_shipped_default_routes_everything_to_care(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CXPULSE_RUN_DIR", "/var/run/cxpulse")

    ownership = load_ownership(REPO_ROOT / "config/ownership.yaml")

    receiver = ownership.receivers["care-local"]
    assert isinstance(receiver, LogReceiver)
    assert receiver.path == "/var/run/cxpulse/notifications.ndjson"
    incidents: list[dict[str, Any]] = [{}, {"brand": "acme-air", "stage": "baggage", "severity": 5}, {"topic": "idea"}]
    for labels in incidents:
        result = ownership.route(labels)
        assert (result.teams, result.receivers) == (["care"], ["care-local"])


def test_shipped_default_loads_without_a_run_dir() -> None:
    receiver = load_ownership(REPO_ROOT / "config/ownership.yaml", environ={}).receivers["care-local"]

    assert isinstance(receiver, LogReceiver)
    assert receiver.path == ".run/notifications.ndjson"


def test_shipped_default_examples_are_valid_routes() -> None:
    """The commented routes in the default file must work once uncommented."""
    text = (REPO_ROOT / "config/ownership.yaml").read_text()
    examples = [
        line.removeprefix("  #   ")
        for line in text.splitlines()
        if line.startswith("  #   ") and not line.removeprefix("  #   ").lstrip().startswith("#")
    ]
    document = textwrap.dedent("""\
        receivers: [{name: all, type: log, path: all.ndjson}]
        teams:
          - {name: care, receivers: [all]}
          - {name: baggage-care, receivers: [all]}
          - {name: pr, receivers: [all]}
          - {name: product, receivers: [all]}
        route:
          team: care
          routes:
        """) + "".join(f"    {line}\n" for line in examples)
    ownership = parse_ownership(document, environ={})

    assert ownership.route({"brand": "acme-air", "stage": "baggage", "severity": 4}).teams == [
        "pr",
        "baggage-care",
    ]
    assert ownership.route({"severity": 5}).teams == ["pr", "care"]
    assert ownership.route({"topic": ["delay", "idea"]}).teams == ["product"]


def test_shipped_example_loads_and_routes() -> None:
    ownership = load_ownership(REPO_ROOT / "config/ownership.example.yaml", environ=EXAMPLE_ENVIRONMENT)

    assert set(ownership.teams) == {"care", "baggage-care", "pr", "product", "sre"}
    pr = ownership.receivers["pr-pagerduty"]
    assert isinstance(pr, PagerDutyReceiver)
    assert pr.routing_key.get_secret_value() == "pr-routing-key"
    assert isinstance(ownership.receivers["product-webhook"], WebhookReceiver)
    alertmanager = ownership.receivers["sre-alertmanager"]
    assert isinstance(alertmanager, AlertmanagerReceiver)
    assert str(alertmanager.url) == "http://localhost:9093/"

    severe_baggage = ownership.route({"brand": "acme-air", "stage": ["baggage"], "severity": 5})
    assert severe_baggage.teams == ["pr", "baggage-care"]
    assert severe_baggage.escalation_receivers == ["care-leads-pagerduty"]
    assert ownership.route({"brand": "acme-air", "stage": "baggage", "channel": "demo"}).teams == ["care"]
    assert ownership.route({"brand": "globex-shop", "topic": ["outage"], "severity": 3}).teams == [
        "sre",
        "care",
    ]
    assert ownership.route({"brand": "globex-shop", "topic": "idea"}).teams == ["product"]
    assert ownership.route({"brand": "northwind-mobile"}).teams == ["care"]
