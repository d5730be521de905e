"""A support flow as YAML, for review in version control, and back into the draft.

The export holds the draft's settings and rules, the workspace's queues, its AI actions' policies
and who may approve each risk level, in a stable order under a header that says how importing
treats each part.

Importing goes through the same services as the console (same checks, same revision check, same
audit), in one transaction: all of it or nothing. Every problem names the line of the YAML it is
about ("line 3: confidence_threshold: Must be between 0 and 1."), so an admin can fix the file.
The YAML is read with the safe loader, without aliases (a "billion laughs" file expands
exponentially), dates (`2024-12-25` stays text) or any type JSON cannot store.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction

from console.audit import Change, value_changes
from console.models import User
from routing.actions import action_approval_policy_update, action_update, approvers_validate
from routing.flow_diff import rules_changes
from routing.flow_release import DRAFT_CHANGED_MESSAGE
from routing.flow_settings import FlowSettings
from routing.models import Action, ActionApprovalPolicy, ActionRisk, Queue, SupportFlow
from routing.rules import rule_validate
from routing.selectors import (
    action_approval_policies_of_workspace,
    actions_of_workspace,
    queues_of_workspace,
)
from routing.services import (
    DraftChangedError,
    flow_rules_update,
    flow_settings_update,
    queue_save,
)

YAML_MAX_BYTES = 512_000
SECTIONS = ("flow", "settings", "rules", "queues", "actions", "approvers")
RULE_KEYS = ("name", "enabled", "match", "conditions", "action")
CONDITION_KEYS = ("fact", "op", "key", "value")
RULE_ACTION_KEYS = ("type", "queue", "priority", "text")
QUEUE_KEYS = ("name", "tier", "sla_wait_minutes")
ACTION_KEYS = ("key", "name", "risk", "policy", "enabled")
NEW_QUEUE_DEFAULTS = {"tier": 1, "sla_wait_minutes": 10}

HEADER = """\
# A support flow, exported from its draft. Edit it and import it back on the flow's
# "Export / import" page; nothing is live until the draft is published.
# - settings and rules replace the draft's (a setting left out keeps its draft value);
# - queues are created or updated by name (none is deleted);
# - actions are matched by key: only policy and enabled change (name and risk are for reading);
# - approvers: who may approve the actions of each risk level.
# A section left out is left as it is.
"""

_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = {f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null")}


# --- export ----------------------------------------------------------------------------------


def flow_export_data(flow: SupportFlow) -> dict[str, Any]:
    """The flow and its workspace's queues and action policies, in the order the YAML shows."""
    workspace = flow.workspace
    try:
        settings = FlowSettings.from_json(flow.settings).to_json()  # in the settings' own order
    except ValidationError:
        settings = dict(flow.settings)  # exported as stored, so the admin can see and fix it
    return {
        "flow": flow.name,
        "settings": settings,
        "rules": [_rule_in_order(rule) for rule in flow.rules],
        "queues": [
            {"name": queue.name, "tier": queue.tier, "sla_wait_minutes": queue.sla_wait_minutes}
            for queue in queues_of_workspace(workspace=workspace)
        ],
        "actions": [
            {
                "key": action.key,
                "name": action.name,
                "risk": action.risk,
                "policy": action.policy,
                "enabled": action.enabled,
            }
            for action in actions_of_workspace(workspace=workspace)
        ],
        "approvers": {
            str(policy.risk): list(policy.approvers)
            for policy in action_approval_policies_of_workspace(workspace=workspace)
        },
    }


def flow_export_yaml(flow: SupportFlow) -> str:
    return HEADER + yaml.dump(
        flow_export_data(flow),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )


def _rule_in_order(rule: Mapping[str, Any]) -> dict[str, Any]:
    """Stored rules come back in jsonb's key order; a reader wants name first, action last."""

    def ordered(mapping: Any, keys: tuple[str, ...]) -> Any:
        if not isinstance(mapping, Mapping):
            return mapping
        known = {key: mapping[key] for key in keys if key in mapping}
        return {**known, **{key: value for key, value in mapping.items() if key not in known}}

    clean = ordered(rule, RULE_KEYS)
    if isinstance(clean.get("conditions"), list):
        clean["conditions"] = [ordered(c, CONDITION_KEYS) for c in clean["conditions"]]
    clean["action"] = ordered(clean.get("action"), RULE_ACTION_KEYS)
    return clean


class _Dumper(yaml.SafeDumper):
    """Multi-line texts as literal blocks, and never an alias: the importer refuses them."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar(f"{_TAG}str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _represent_text)


# --- reading the YAML ------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """The safe loader without timestamps: an unquoted 2024-12-25 is the text it looks like."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != f"{_TAG}timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class YamlProblem:
    line: int  # from 1; 0 when the problem is about the whole file
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class FlowYamlError(ValidationError):
    """What is wrong with an imported YAML, each problem with its line, in the file's order."""

    def __init__(self, problems: list[YamlProblem]) -> None:
        self.problems = sorted(problems, key=lambda problem: problem.line)
        super().__init__({"yaml": [str(problem) for problem in self.problems]})


def _line(node: yaml.Node) -> int:
    return _mark_line(node.start_mark)


def _mark_line(mark: Any) -> int:
    return int(mark.line) + 1 if mark is not None else 0


def _problem(line: int, message: str) -> FlowYamlError:
    return FlowYamlError([YamlProblem(line, message)])


def yaml_parse(text: str) -> tuple[yaml.Node, Any]:
    """The document's node tree (for line numbers) and its data, or FlowYamlError."""
    if len(text.encode()) > YAML_MAX_BYTES:
        raise _problem(0, f"The file is larger than {YAML_MAX_BYTES // 1000} kB.")
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                raise _problem(
                    _mark_line(event.start_mark),
                    "aliases (*name) are not supported here: write the value out.",
                )
        root = yaml.compose(text, Loader=_Loader)
        if root is None:
            raise _problem(0, "The file is empty: export the flow to see what it holds.")
        loader = _Loader("")
        try:
            _nodes_check(root, loader)
            data = loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        problem = error.problem or error.context or "unreadable"
        line = _mark_line(error.problem_mark or error.context_mark)
        raise _problem(line, f"not valid YAML: {problem}.") from None
    except yaml.YAMLError as error:  # e.g. a control character the reader refuses
        raise _problem(0, f"Not valid YAML: {error}") from None
    except RecursionError:
        raise _problem(0, "The file is nested too deeply.") from None
    return root, data


def _nodes_check(root: yaml.Node, loader: _Loader) -> None:
    """Keys are plain names, each once per mapping; values are what JSON can store."""
    problems: list[YamlProblem] = []
    pending = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag != f"{_TAG}str":
                    shown = key.value if isinstance(key, yaml.ScalarNode) else "this key"
                    problems.append(YamlProblem(_line(key), f"{shown!r} is not a name: quote it."))
                elif key.value in seen:
                    problems.append(YamlProblem(_line(key), f"{key.value!r} appears twice."))
                else:
                    seen.add(key.value)
                pending.append(value)
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
        elif node.tag not in _PLAIN_TAGS or not isinstance(node, yaml.ScalarNode):
            problems.append(YamlProblem(_line(node), f"unsupported value type {node.tag!r}."))
        elif node.tag == f"{_TAG}float" and not math.isfinite(loader.construct_yaml_float(node)):
            problems.append(YamlProblem(_line(node), f"{node.value!r} is not a usable number."))
    if problems:
        raise FlowYamlError(problems)


class _Lines:
    """Line numbers of a parsed document, by path: ("rules", 2, "action") is the `action:` key
    of the third rule. A path that goes further than the file gives its deepest existing part."""

    def __init__(self, root: yaml.Node) -> None:
        self.root = root

    def of(self, *path: str | int) -> int:
        node, line = self.root, _line(self.root)
        for step in path:
            found = _child(node, step)
            if found is None:
                break
            key, node = found
            line = _line(key)
        return line

    def node(self, *path: str | int) -> yaml.Node | None:
        node: yaml.Node | None = self.root
        for step in path:
            found = _child(node, step) if node is not None else None
            node = found[1] if found is not None else None
        return node

    def of_message(self, message: str, *path: str | int) -> int:
        """The line inside `path` that the message names in quotes, by key or by value, or the
        line of `path` itself: "Unknown generator setting 'modle'." points at `modle:`, "Hand
        off to one of the queues, not 'Tier 9'." at `queue: Tier 9`."""
        node = self.node(*path)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                named = [key.value, value.value if isinstance(value, yaml.ScalarNode) else None]
                if any(f"'{text}'" in message for text in named if text):
                    return _line(key)
        return self.of(*path)


def _child(node: yaml.Node, step: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode) and isinstance(step, str):
        return next(((k, v) for k, v in node.value if k.value == step), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        return node.value[step], node.value[step]
    return None


# --- import ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowImported:
    """What an import changed, as the audit log would say it (nothing when the file matched)."""

    flow: SupportFlow
    changes: list[Change] = field(default_factory=list)


@dataclass
class _Import:
    """One import in progress: the file, where its parts are, and what was found wrong."""

    flow: SupportFlow
    data: dict[str, Any]
    lines: _Lines
    by: User | None
    problems: list[YamlProblem] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    def problem(self, line: int, message: str) -> None:
        self.problems.append(YamlProblem(line, message))

    def unknown_keys(
        self, mapping: Mapping[str, Any], known: tuple[str, ...], *path: str | int
    ) -> None:
        for key in mapping:
            if key not in known:
                self.problem(
                    self.lines.of(*path, key),
                    f"unknown key {key!r}; use {', '.join(known)}.",
                )


@transaction.atomic
def flow_yaml_import(
    *, flow: SupportFlow, text: str, expected_revision: int, by: User | None
) -> FlowImported:
    """Apply a YAML export (possibly edited) to the flow's draft and its workspace's queues and
    action policies: all of it, or nothing and a FlowYamlError listing every problem by line.
    DraftChangedError when the draft changed since the admin opened it (`expected_revision`)."""
    root, data = yaml_parse(text)
    lines = _Lines(root)
    if not isinstance(data, dict):
        raise _problem(_line(root), "the file must be a mapping of settings, rules, queues, ...")
    locked = SupportFlow.objects.select_for_update().get(pk=flow.pk)
    if locked.draft_revision != expected_revision:
        raise DraftChangedError(DRAFT_CHANGED_MESSAGE)
    work = _Import(flow=locked, data=data, lines=lines, by=by)
    work.unknown_keys(data, SECTIONS)
    # Queues first: the rules may hand off to a queue the file creates.
    queue_names = _queues_import(work)
    settings = _settings_checked(work)
    rules = _rules_checked(work, queue_names)
    _actions_import(work)
    _approvers_import(work)
    if work.problems:
        raise FlowYamlError(work.problems)  # undoes the queues and actions saved above
    try:
        if settings is not None and settings != locked.settings:
            work.changes += value_changes(locked.settings, settings)
            locked = flow_settings_update(
                flow=locked, settings=settings, expected_revision=locked.draft_revision, by=by
            )
        if rules is not None and rules != locked.rules:
            work.changes += rules_changes(locked.rules, rules)
            locked = flow_rules_update(
                flow=locked, rules=rules, expected_revision=locked.draft_revision, by=by
            )
    except DraftChangedError:
        raise
    except ValidationError as error:  # checked above; kept so that nothing is ever half-done
        raise _problem(1, " ".join(error.messages)) from None
    return FlowImported(flow=locked, changes=work.changes)


def _section(work: _Import, name: str, kind: type) -> Any:
    """The section's value, None when the file leaves it out (or it has the wrong shape)."""
    if name not in work.data:
        return None
    value = work.data[name]
    if not isinstance(value, kind):
        shape = "a list (one `- ` item each)" if kind is list else "a mapping of names to values"
        work.problem(work.lines.of(name), f"{name} must be {shape}.")
        return None
    return value


def _entries(
    work: _Import, section: str, items: list[Any], what: str
) -> list[tuple[int, dict[str, Any]]]:
    entries = []
    for index, item in enumerate(items):
        if isinstance(item, dict):
            entries.append((index, item))
        else:
            work.problem(work.lines.of(section, index), f"each {what} must be a mapping.")
    return entries


def _settings_checked(work: _Import) -> dict[str, Any] | None:
    given = _section(work, "settings", dict)
    if given is None:
        return None
    try:
        return FlowSettings.from_json({**work.flow.settings, **given}).to_json()
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            for message in messages:
                line = work.lines.of_message(message, "settings", name)
                work.problem(line, f"{name}: {message}")
        return None


def _rules_checked(work: _Import, queue_names: set[str]) -> list[dict[str, Any]] | None:
    items = _section(work, "rules", list)
    if items is None:
        return None
    checked: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, rule in _entries(work, "rules", items, "rule"):
        name = str(rule.get("name") or "").strip()
        where = f"rule {name!r}" if name else f"rule {index + 1}"
        work.unknown_keys(rule, RULE_KEYS, "rules", index)
        conditions = rule.get("conditions")
        for position, condition in enumerate(conditions if isinstance(conditions, list) else []):
            if isinstance(condition, dict):
                work.unknown_keys(condition, CONDITION_KEYS, "rules", index, "conditions", position)
        if isinstance(rule.get("action"), dict):
            work.unknown_keys(rule["action"], RULE_ACTION_KEYS, "rules", index, "action")
        if "enabled" in rule and not isinstance(rule["enabled"], bool):
            # rule_validate would read the text "false" as true: refuse it rather than guess.
            work.problem(
                work.lines.of("rules", index, "enabled"), f"{where}: enabled is true or false."
            )
        if name and name in seen:
            work.problem(work.lines.of("rules", index, "name"), f"{where} appears twice.")
        seen.add(name)
        try:
            checked.append(rule_validate(rule, queue_names=queue_names))
        except ValidationError as error:
            for key, messages in error.message_dict.items():
                for message in messages:
                    work.problem(_rule_line(work, index, key, message), f"{where}: {message}")
    return checked if len(checked) == len(items) else None


def _rule_line(work: _Import, index: int, key: str, message: str) -> int:
    """Condition problems say "Condition 2: ...": point at that condition."""
    condition = re.match(r"Condition (\d+)", message)
    if key == "conditions" and condition:
        return work.lines.of("rules", index, "conditions", int(condition.group(1)) - 1)
    return work.lines.of_message(message, "rules", index, key)


def _queues_import(work: _Import) -> set[str]:
    """Create or update the file's queues (through queue_save, which checks them). The names
    the rules may hand off to: the workspace's queues and the file's."""
    workspace = work.flow.workspace
    existing = {queue.name: queue for queue in Queue.objects.filter(workspace=workspace)}
    names = set(existing)
    items = _section(work, "queues", list)
    if items is None:
        return names
    seen: set[str] = set()
    for index, item in _entries(work, "queues", items, "queue"):
        work.unknown_keys(item, QUEUE_KEYS, "queues", index)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            work.problem(work.lines.of("queues", index), "each queue needs a name.")
            continue
        name = name.strip()
        where = f"queue {name!r}"
        if name in seen:
            work.problem(work.lines.of("queues", index, "name"), f"{where} appears twice.")
            continue
        seen.add(name)
        names.add(name)
        queue = existing.get(name)
        values = {
            key: item.get(key, getattr(queue, key) if queue else default)
            for key, default in NEW_QUEUE_DEFAULTS.items()
        }
        wrong = [k for k, v in values.items() if isinstance(v, bool) or not isinstance(v, int)]
        for key in wrong:
            work.problem(work.lines.of("queues", index, key), f"{where}: {key} is a whole number.")
        if wrong or (queue and values == {k: getattr(queue, k) for k in values}):
            continue
        before = {"name": name, **{k: getattr(queue, k) for k in values}} if queue else None
        try:
            with transaction.atomic():
                queue_save(
                    workspace=workspace,
                    name=name,
                    queue=queue,
                    by=work.by,
                    tier=values["tier"],
                    sla_wait_minutes=values["sla_wait_minutes"],
                )
        except ValidationError as error:
            for key, messages in error.message_dict.items():
                for message in messages:
                    work.problem(work.lines.of("queues", index, key), f"{where}: {message}")
        else:
            work.changes.append(Change(f"queue {name!r}", before, {"name": name, **values}))
    return names


def _actions_import(work: _Import) -> None:
    """Policy and enabled of existing actions, by key. The services refuse what is unsafe: a
    destructive action set to run by itself, an action enabled without its webhook."""
    items = _section(work, "actions", list)
    if items is None:
        return
    workspace = work.flow.workspace
    actions = {action.key: action for action in Action.objects.filter(workspace=workspace)}
    seen: set[str] = set()
    for index, item in _entries(work, "actions", items, "action"):
        work.unknown_keys(item, ACTION_KEYS, "actions", index)
        key = item.get("key")
        action = actions.get(key) if isinstance(key, str) else None
        if action is None:
            work.problem(
                work.lines.of("actions", index, "key"),
                f"no action has the key {key!r} in this workspace; add it on the Actions page.",
            )
            continue
        where = f"action {action.key!r}"
        if action.key in seen:
            work.problem(work.lines.of("actions", index, "key"), f"{where} appears twice.")
            continue
        seen.add(action.key)
        if "risk" in item and item["risk"] != action.risk:
            # The reader of the file judges the policy by the risk it shows: it must be true.
            work.problem(
                work.lines.of("actions", index, "risk"),
                f"{where}: its risk is {action.risk}, not {item['risk']!r}; "
                "the risk is changed on the Actions page.",
            )
            continue
        wanted = {name: item[name] for name in ("policy", "enabled") if name in item}
        before = {name: getattr(action, name) for name in wanted}
        if wanted == before:
            continue
        try:
            with transaction.atomic():
                action_update(action=action, changes=wanted, by=work.by)  # audits the change
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                for message in messages:
                    work.problem(work.lines.of("actions", index, name), f"{where}: {message}")
            continue
        work.changes += [
            Change(f"{where} {name}", before[name], value)
            for name, value in wanted.items()
            if value != before[name]
        ]


def _approvers_import(work: _Import) -> None:
    given = _section(work, "approvers", dict)
    if given is None:
        return
    workspace = work.flow.workspace
    current = {
        str(policy.risk): policy
        for policy in action_approval_policies_of_workspace(workspace=workspace)
    }
    for risk, approvers in given.items():
        line = work.lines.of("approvers", risk)
        if risk not in ActionRisk.values:
            work.problem(line, f"unknown risk {risk!r}; use {', '.join(ActionRisk.values)}.")
            continue
        try:
            cleaned = approvers_validate(risk=risk, approvers=approvers)
        except ValidationError as error:
            for message in error.messages:
                work.problem(line, f"approvers of {risk} actions: {message}")
            continue
        policy: ActionApprovalPolicy = current[risk]
        if cleaned == list(policy.approvers) and policy.pk is not None:
            continue
        action_approval_policy_update(  # audits the change
            workspace=workspace, risk=risk, approvers=cleaned, updated_by=work.by
        )
        work.changes.append(Change(f"approvers of {risk} actions", list(policy.approvers), cleaned))
