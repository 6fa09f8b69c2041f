"""Ownership as code: which teams own an incident, as an Alertmanager routing tree in YAML.

`ownership.yaml` (its header comment is the format's reference) lists receivers, teams and one
routing tree. Routing follows Prometheus Alertmanager exactly: depth-first, a route matches when
all its matchers do, children are tried in order and the first matching child wins unless it
says `continue: true`, a route no child takes keeps the incident itself, and `team`, `group_by`
and the timers are inherited from the parent unless overridden. Incident labels are `brand`,
`stage`, `topic`, `platform`, `channel` and `severity` (1 lowest to 5 worst); an incident may
carry several stages or topics, and `=`/`=~` then match when any value does while `!=`/`!~`
match when none does (each is the exact negation of the other, as with one value).

Every error in the file names its line: the document is read as YAML nodes (`yaml.compose`),
which keep their positions, instead of as plain Python values, which lose them.
"""

from __future__ import annotations

import hashlib
import operator
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple, cast

import yaml
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cxpulse_alerts.receivers.config import ReceiverConfig

ROUTING_LABELS = ("brand", "stage", "topic", "platform", "channel", "severity")
NUMERIC_LABEL = "severity"

# Alertmanager's own defaults, so a file that sets no timer behaves as operators expect.
DEFAULT_GROUP_WAIT = timedelta(seconds=30)
DEFAULT_GROUP_INTERVAL = timedelta(minutes=5)
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)

MatchOperator = Literal["=", "!=", "=~", "!~", ">=", "<=", ">", "<"]
LabelValue = str | int | Sequence[str] | None

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# `${VAR}` or `${VAR:-default}`; the default applies when VAR is unset or empty, as in a shell.
_ENV_REFERENCE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")
_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_DURATION_UNITS = ("weeks", "days", "hours", "minutes", "seconds", "milliseconds")
# Longest operators first, so `!=` is never read as `!` followed by `=`.
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|>=|<=|=|>|<)\s*(.*?)\s*$", re.DOTALL)
_NUMERIC_OPERATORS: Mapping[str, Callable[[int, int], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}

_FILE_KEYS = ("receivers", "teams", "route")
_TEAM_KEYS = ("name", "receivers", "escalation_receivers", "acknowledge_within")
_ROUTE_KEYS = (
    "matchers",
    "team",
    "continue",
    "group_by",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "routes",
)

_receiver_adapter: TypeAdapter[ReceiverConfig] = TypeAdapter(ReceiverConfig)


class OwnershipFileInvalid(ValueError):
    """The file cannot be used; `line` is 1-based, None when the whole file is at fault."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        super().__init__(f"{path}:{line}: {message}" if line is not None else f"{path}: {message}")


def parse_duration(text: str) -> timedelta:
    """Prometheus durations: `30s`, `5m`, `4h`, `1d`, `1w`, `500ms`, or combined like `1h30m`."""
    found = _DURATION.match(text.strip())
    if not text.strip() or found is None:
        raise ValueError(f"bad duration {text!r}: expected a number and a unit (ms, s, m, h, d, w), like 30s")
    amounts = {unit: int(amount) for unit, amount in zip(_DURATION_UNITS, found.groups(), strict=True) if amount}
    return timedelta(**amounts)


def format_duration(duration: timedelta) -> str:
    """The inverse of `parse_duration`, in its largest units: `1h30m`, `4h`, `0s`."""
    milliseconds = round(duration.total_seconds() * 1000)
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        amount, milliseconds = divmod(milliseconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"


@dataclass(frozen=True)
class Matcher:
    """One Alertmanager matcher, plus numeric comparisons for `severity`."""

    label: str
    operator: MatchOperator
    value: str
    pattern: re.Pattern[str] | None = field(default=None, repr=False, compare=False)  # for =~ and !~

    def matches(self, values: Sequence[str]) -> bool:
        """`values` are the incident's values for the label; an absent label is `("",)`."""
        if self.operator in _NUMERIC_OPERATORS:
            compare = _NUMERIC_OPERATORS[self.operator]
            threshold = int(self.value)
            return any(compare(number, threshold) for number in _integers(values))
        if (pattern := self.pattern) is not None:
            found = any(pattern.fullmatch(value) for value in values)
        else:
            found = self.value in values
        return found if self.operator in ("=", "=~") else not found

    def __str__(self) -> str:
        if self.operator in _NUMERIC_OPERATORS:
            return f"{self.label}{self.operator}{self.value}"
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.label}{self.operator}"{escaped}"'


def parse_matcher(text: str) -> Matcher:
    """`label="v"`, `label!="v"`, `label=~"re"`, `label!~"re"`, `severity>=N` (also <=, >, <).

    Regexes are anchored at both ends, as in Alertmanager. Quotes are optional; inside them
    `\\"`, `\\\\` and `\\n` are escapes and any other backslash is kept, so `\\.` reaches the regex.
    """
    parts = _MATCHER.match(text)
    if parts is None:
        raise ValueError(f'bad matcher {text!r}: expected label="value", label=~"regex" or severity>=N')
    label, raw_operator, raw_value = parts.groups()
    match_operator = cast(MatchOperator, raw_operator)
    if label not in ROUTING_LABELS:
        raise ValueError(f"bad matcher {text!r}: unknown label {label!r} (labels: {', '.join(ROUTING_LABELS)})")
    value = _unquote(raw_value, text)
    if match_operator in _NUMERIC_OPERATORS:
        if label != NUMERIC_LABEL:
            raise ValueError(f"bad matcher {text!r}: only {NUMERIC_LABEL} compares as a number")
        if not re.fullmatch(r"[0-9]+", value):
            raise ValueError(f"bad matcher {text!r}: {NUMERIC_LABEL} is compared with a whole number")
        return Matcher(label, match_operator, str(int(value)))
    if match_operator in ("=~", "!~"):
        try:
            pattern = re.compile(value)
        except re.error as error:
            raise ValueError(f"bad matcher {text!r}: invalid regex: {error}") from error
        return Matcher(label, match_operator, value, pattern)
    return Matcher(label, match_operator, value)


def _unquote(raw: str, text: str) -> str:
    """Alertmanager's unescaping: a spurious escape keeps its backslash."""
    quoted = raw.startswith('"')
    body = raw[1:] if quoted else raw
    value: list[str] = []
    escaped = False
    for index, character in enumerate(body):
        if escaped:
            escaped = False
            value.append({"n": "\n", '"': '"', "\\": "\\"}.get(character, "\\" + character))
        elif character == "\\" and index < len(body) - 1:
            escaped = True
        elif character == '"':
            if not quoted or index < len(body) - 1:
                raise ValueError(f"bad matcher {text!r}: unescaped double quote in the value")
            quoted = False
        else:
            value.append(character)
    if quoted:
        raise ValueError(f"bad matcher {text!r}: missing closing quote")
    return "".join(value)


def _integers(values: Iterable[str]) -> Iterable[int]:
    for value in values:
        try:
            yield int(value)
        except ValueError:
            continue


@dataclass(frozen=True)
class Team:
    name: str
    receivers: tuple[str, ...]
    escalation_receivers: tuple[str, ...]
    acknowledge_within: timedelta | None
    line: int


@dataclass(frozen=True)
class Route:
    """A node of the tree with everything inherited already resolved; `path` like `route.routes[1]`."""

    path: str
    line: int
    team: str
    matchers: tuple[Matcher, ...]
    continue_matching: bool
    group_by: tuple[str, ...]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    routes: tuple[Route, ...] = ()

    def matches(self, labels: Mapping[str, Sequence[str]]) -> bool:
        return all(matcher.matches(labels.get(matcher.label, ("",))) for matcher in self.matchers)

    def match(self, labels: Mapping[str, Sequence[str]]) -> list[Route]:
        """Alertmanager's `Route.Match`: the routes that take the incident, in tree order."""
        if not self.matches(labels):
            return []
        taken: list[Route] = []
        for child in self.routes:
            child_taken = child.match(labels)
            taken.extend(child_taken)
            if child_taken and not child.continue_matching:
                break
        return taken or [self]

    def walk(self) -> Iterable[Route]:
        yield self
        for child in self.routes:
            yield from child.walk()


@dataclass(frozen=True)
class RoutingResult:
    """Who gets an incident, teams and receivers in routing order without repeats.

    With several matched routes (`continue`), each keeps its own `group_by` and timers in
    `matched_routes`, as Alertmanager would group them; the top-level ones are the first
    matched route's, for callers that keep one schedule per incident. `acknowledge_within` is
    the earliest deadline among the owning teams, None when none of them sets one.
    """

    teams: list[str]
    receivers: list[str]
    escalation_receivers: list[str]
    acknowledge_within: timedelta | None
    group_by: list[str]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    matched_routes: list[Route]


@dataclass(frozen=True, eq=False)
class Ownership:
    """A validated ownership file; `digest` (sha256 of its bytes) lets the alerts service audit-log
    every configuration change."""

    path: Path
    digest: str
    receivers: Mapping[str, ReceiverConfig]
    teams: Mapping[str, Team]
    root: Route

    def route(self, labels: Mapping[str, LabelValue]) -> RoutingResult:
        matched = self.root.match(_label_values(labels))
        teams = _unique(route.team for route in matched)
        deadlines = [deadline for team in teams if (deadline := self.teams[team].acknowledge_within) is not None]
        primary = matched[0]
        return RoutingResult(
            teams=teams,
            receivers=_unique(name for team in teams for name in self.teams[team].receivers),
            escalation_receivers=_unique(name for team in teams for name in self.teams[team].escalation_receivers),
            acknowledge_within=min(deadlines, default=None),
            group_by=list(primary.group_by),
            group_wait=primary.group_wait,
            group_interval=primary.group_interval,
            repeat_interval=primary.repeat_interval,
            matched_routes=matched,
        )


def _label_values(labels: Mapping[str, LabelValue]) -> dict[str, tuple[str, ...]]:
    """Every label as a tuple of strings; absent, None and empty all read as `("",)`, as in
    Alertmanager, where a missing label equals the empty string."""
    values: dict[str, tuple[str, ...]] = {}
    for name, value in labels.items():
        if value is None:
            values[name] = ("",)
        elif isinstance(value, str | int):
            values[name] = (str(value),)
        else:
            values[name] = tuple(str(item) for item in value) or ("",)
    return values


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def load_ownership(path: Path | str, environ: Mapping[str, str] | None = None) -> Ownership:
    """Reads and validates an ownership file; `environ` (default `os.environ`) fills `${VAR}`."""
    try:
        source = Path(path).read_bytes()
    except OSError as error:
        raise OwnershipFileInvalid(path, None, f"cannot read the file: {error.strerror}") from error
    return parse_ownership(source, path=path, environ=environ)


def parse_ownership(
    source: bytes | str, *, path: Path | str = "<string>", environ: Mapping[str, str] | None = None
) -> Ownership:
    raw = source.encode() if isinstance(source, str) else source
    if environ is None:
        environ = os.environ
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise OwnershipFileInvalid(path, None, f"not UTF-8: {error.reason}") from error
    try:
        document = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        raise OwnershipFileInvalid(path, line, f"not valid YAML: {error.problem}") from error
    except yaml.YAMLError as error:
        raise OwnershipFileInvalid(path, None, f"not valid YAML: {error}") from error
    if document is None:
        raise OwnershipFileInvalid(path, 1, "the file is empty: expected receivers, teams and route")
    reader = _Reader(Path(path), environ)
    sections = reader.fields(document, "the file", _FILE_KEYS, required=_FILE_KEYS)
    receivers = reader.receivers(sections["receivers"])
    teams = reader.teams(sections["teams"], receivers)
    root = reader.route(sections["route"], "route", teams, parent=None)
    return Ownership(
        path=Path(path),
        digest=hashlib.sha256(raw).hexdigest(),
        receivers=receivers,
        teams=teams,
        root=root,
    )


class _Inherited(NamedTuple):
    team: str
    group_by: tuple[str, ...]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta


_ROOT_DEFAULTS = _Inherited("", (), DEFAULT_GROUP_WAIT, DEFAULT_GROUP_INTERVAL, DEFAULT_REPEAT_INTERVAL)


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _Reader:
    """Turns YAML nodes into checked values, raising errors that carry the node's line."""

    def __init__(self, path: Path, environ: Mapping[str, str]) -> None:
        self.path = path
        self.environ = environ
        self._constructor = SafeConstructor()

    def invalid(self, node: Node, message: str) -> OwnershipFileInvalid:
        return OwnershipFileInvalid(self.path, _line(node), message)

    def fields(self, node: Node, what: str, allowed: Sequence[str], required: Sequence[str] = ()) -> dict[str, Node]:
        if not isinstance(node, MappingNode):
            raise self.invalid(node, f"{what}: expected a mapping with keys {', '.join(allowed)}")
        found: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node, what)
            if key in found:
                raise self.invalid(key_node, f"{what}: key {key!r} appears twice")
            if key not in allowed:
                raise self.invalid(key_node, f"{what}: unknown key {key!r} (expected {', '.join(allowed)})")
            found[key] = value_node
        missing = [key for key in required if key not in found]
        if missing:
            raise self.invalid(node, f"{what}: missing {', '.join(missing)}")
        return found

    def key(self, node: Node, what: str) -> str:
        key = self._constructor.construct_object(node) if isinstance(node, ScalarNode) else None
        if not isinstance(key, str):
            raise self.invalid(node, f"{what}: keys must be plain words")
        return key

    def scalar(self, node: ScalarNode) -> Any:
        value = self._constructor.construct_object(node)
        if isinstance(value, str):
            return self.interpolate(value, node)
        return value

    def interpolate(self, value: str, node: Node) -> str:
        def fill(reference: re.Match[str]) -> str:
            name, default = reference.group(1), reference.group(2)
            if default is not None:
                return self.environ.get(name) or default
            if name not in self.environ:
                raise self.invalid(node, f"environment variable {name} is not set")
            return self.environ[name]

        return _ENV_REFERENCE.sub(fill, value)

    def plain(self, node: Node) -> Any:
        """Plain Python values with `${VAR}` filled in string values; keys are never filled."""
        if isinstance(node, MappingNode):
            return {key: self.plain(value) for key, value in self.fields_any(node).items()}
        if isinstance(node, SequenceNode):
            return [self.plain(item) for item in node.value]
        assert isinstance(node, ScalarNode)
        return self.scalar(node)

    def fields_any(self, node: MappingNode) -> dict[str, Node]:
        found: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node, "mapping")
            if key in found:
                raise self.invalid(key_node, f"key {key!r} appears twice")
            found[key] = value_node
        return found

    def text(self, node: Node, what: str) -> str:
        value = self.scalar(node) if isinstance(node, ScalarNode) else None
        if not isinstance(value, str):
            raise self.invalid(node, f"{what}: expected a string")
        return value

    def name(self, node: Node, what: str) -> str:
        value = self.text(node, what)
        if not _NAME.fullmatch(value):
            raise self.invalid(
                node, f"{what}: {value!r} is not a name (lowercase letters, digits, '-' and '_', up to 64)"
            )
        return value

    def items(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            raise self.invalid(node, f"{what}: expected a list")
        return list(node.value)

    def flag(self, node: Node, what: str) -> bool:
        value = self.scalar(node) if isinstance(node, ScalarNode) else None
        if not isinstance(value, bool):
            raise self.invalid(node, f"{what}: expected true or false")
        return value

    def duration(self, node: Node, what: str, *, positive: bool) -> timedelta:
        text = self.scalar(node) if isinstance(node, ScalarNode) else None
        if not isinstance(text, str):
            raise self.invalid(node, f"{what}: expected a duration with its unit, like 30s, 5m, 4h or 1d")
        try:
            duration = parse_duration(text)
        except ValueError as error:
            raise self.invalid(node, f"{what}: {error}") from error
        if positive and not duration:
            raise self.invalid(node, f"{what}: must be longer than zero")
        return duration

    def receivers(self, node: Node) -> dict[str, ReceiverConfig]:
        receivers: dict[str, ReceiverConfig] = {}
        for index, entry in enumerate(self.items(node, "receivers")):
            what = f"receivers[{index}]"
            if not isinstance(entry, MappingNode):
                raise self.invalid(entry, f"{what}: expected a mapping with name, type and its settings")
            values = self.plain(entry)
            try:
                receiver = _receiver_adapter.validate_python(values)
            except ValidationError as error:
                raise self.receiver_invalid(entry, what, error.errors()[0]) from error
            if receiver.name in receivers:
                name_node = self.fields_any(entry)["name"]
                raise self.invalid(name_node, f"{what}: receiver {receiver.name!r} is defined twice")
            receivers[receiver.name] = receiver
        return receivers

    def receiver_invalid(self, entry: MappingNode, what: str, error: ErrorDetails) -> OwnershipFileInvalid:
        """Points at the offending key's line; the message never echoes the input, which may be a
        secret filled from the environment."""
        nodes = self.fields_any(entry)
        name = nodes.get("name")
        if name is not None and isinstance(name, ScalarNode):
            what = f"{what} ({name.value})"
        # A discriminated union's errors start with the type tag: `("pagerduty", "routing_key")`.
        field_path = [str(part) for part in error["loc"][1:]]
        key = field_path[0] if field_path else ("type" if error["type"].startswith("union_tag") else None)
        line_node = nodes.get(key, entry) if key is not None else entry
        if error["type"] == "extra_forbidden":
            return self.invalid(line_node, f"{what}: unknown key {key!r}")
        where = f"{'.'.join(field_path)}: " if field_path else ""
        return self.invalid(line_node, f"{what}: {where}{error['msg']}")

    def receiver_names(self, node: Node, what: str, receivers: Mapping[str, ReceiverConfig]) -> tuple[str, ...]:
        names: list[str] = []
        for item in self.items(node, what):
            name = self.text(item, what)
            if name not in receivers:
                known = ", ".join(receivers) or "none defined"
                raise self.invalid(item, f"{what}: unknown receiver {name!r} (receivers: {known})")
            names.append(name)
        return tuple(_unique(names))

    def teams(self, node: Node, receivers: Mapping[str, ReceiverConfig]) -> dict[str, Team]:
        teams: dict[str, Team] = {}
        entries = self.items(node, "teams")
        if not entries:
            raise self.invalid(node, "teams: at least one team is needed, the root route's")
        for index, entry in enumerate(entries):
            fields = self.fields(entry, f"teams[{index}]", _TEAM_KEYS, required=("name",))
            name = self.name(fields["name"], f"teams[{index}].name")
            what = f"team {name!r}"
            if name in teams:
                raise self.invalid(fields["name"], f"{what} is defined twice")
            team_receivers = (
                self.receiver_names(fields["receivers"], f"{what} receivers", receivers)
                if "receivers" in fields
                else ()
            )
            escalation_receivers = (
                self.receiver_names(fields["escalation_receivers"], f"{what} escalation_receivers", receivers)
                if "escalation_receivers" in fields
                else ()
            )
            acknowledge_within = (
                self.duration(fields["acknowledge_within"], f"{what} acknowledge_within", positive=True)
                if "acknowledge_within" in fields
                else None
            )
            if escalation_receivers and acknowledge_within is None:
                raise self.invalid(
                    fields["escalation_receivers"],
                    f"{what}: escalation_receivers need acknowledge_within, the deadline that triggers them",
                )
            teams[name] = Team(name, team_receivers, escalation_receivers, acknowledge_within, _line(entry))
        return teams

    def route(self, node: Node, path: str, teams: Mapping[str, Team], parent: _Inherited | None) -> Route:
        fields = self.fields(node, path, _ROUTE_KEYS)
        if parent is None:
            for key in ("matchers", "continue"):
                if key in fields:
                    raise self.invalid(fields[key], f"{path}: the root route takes every incident, so no {key}")
            if "team" not in fields:
                raise self.invalid(node, f"{path}: missing team, the default owner of every incident")
        inherited = parent or _ROOT_DEFAULTS
        team = inherited.team
        if "team" in fields:
            team = self.text(fields["team"], f"{path}.team")
            if team not in teams:
                known = ", ".join(teams)
                raise self.invalid(fields["team"], f"{path}.team: unknown team {team!r} (teams: {known})")
        settings = _Inherited(
            team=team,
            group_by=self.group_by(fields["group_by"], path) if "group_by" in fields else inherited.group_by,
            group_wait=self.timer(fields, "group_wait", path, positive=False, inherited=inherited.group_wait),
            group_interval=self.timer(
                fields, "group_interval", path, positive=True, inherited=inherited.group_interval
            ),
            repeat_interval=self.timer(
                fields, "repeat_interval", path, positive=True, inherited=inherited.repeat_interval
            ),
        )
        matchers = self.matchers(fields["matchers"], path) if "matchers" in fields else ()
        children = self.items(fields["routes"], f"{path}.routes") if "routes" in fields else []
        return Route(
            path=path,
            line=_line(node),
            team=settings.team,
            matchers=matchers,
            continue_matching=self.flag(fields["continue"], f"{path}.continue") if "continue" in fields else False,
            group_by=settings.group_by,
            group_wait=settings.group_wait,
            group_interval=settings.group_interval,
            repeat_interval=settings.repeat_interval,
            routes=tuple(
                self.route(child, f"{path}.routes[{index}]", teams, parent=settings)
                for index, child in enumerate(children)
            ),
        )

    def timer(
        self, fields: Mapping[str, Node], key: str, path: str, *, positive: bool, inherited: timedelta
    ) -> timedelta:
        if key not in fields:
            return inherited
        return self.duration(fields[key], f"{path}.{key}", positive=positive)

    def group_by(self, node: Node, path: str) -> tuple[str, ...]:
        labels: list[str] = []
        for item in self.items(node, f"{path}.group_by"):
            label = self.text(item, f"{path}.group_by")
            if label not in ROUTING_LABELS:
                raise self.invalid(
                    item, f"{path}.group_by: unknown label {label!r} (labels: {', '.join(ROUTING_LABELS)})"
                )
            labels.append(label)
        return tuple(_unique(labels))

    def matchers(self, node: Node, path: str) -> tuple[Matcher, ...]:
        matchers: list[Matcher] = []
        for item in self.items(node, f"{path}.matchers"):
            try:
                matchers.append(parse_matcher(self.text(item, f"{path}.matchers")))
            except ValueError as error:
                raise self.invalid(item, f"{path}.matchers: {error}") from error
        return tuple(matchers)
