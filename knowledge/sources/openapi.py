"""OpenAPI 3.x specs: one article per operation, written for a support AI and a person alike.

Customers ask "how do I create a user with the API?" or "what does a 409 mean?", so each article
says what the operation does, how to call it, what it accepts and what it answers. Specs come from
anywhere, so reading is defensive: every `$ref` is local, cycle-checked and hop-limited, schema
walking has a per-operation budget, and one broken operation becomes a failure naming it while
the others are still read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import yaml

from knowledge.sources.drafts import ArticleDraft, ReadFailure, SourceInputError, SourceReading

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
MAX_SPEC_BYTES = 20 * 1024 * 1024
MAX_OPERATIONS = 5000
MAX_REF_HOPS = 32
MAX_REF_LENGTH = 1000
# Schema work per operation, counted in schemas visited. Real operations use a few hundred;
# a hostile spec (composition fan-out, alias bombs) hits the limit and fails alone.
SCHEMA_BUDGET = 20_000
MAX_COMPOSITION_DEPTH = 6
MAX_FIELDS = 100
MAX_NESTED_FIELDS = 40
MAX_ENUM_VALUES = 12
MAX_FIELD_TEXT = 500
MAX_DESCRIPTION = 20_000
MAX_TITLE = 300
MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s")
JSON_MEDIA_TYPE = re.compile(r"^application/([\w.+-]*\+)?json\b", re.IGNORECASE)

YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _OperationError(Exception):
    """Why one operation cannot be read, worded for the person who wrote the spec."""


def read_openapi_spec(data: bytes) -> SourceReading:
    """Read an OpenAPI 3.x spec (JSON or YAML) into one draft per operation.

    The spec as a whole must parse and declare OpenAPI 3.x, else SourceInputError (Swagger 2.0
    is named as unsupported). An operation that cannot be read becomes a failure with its
    "METHOD /path" id.
    """
    spec = _parse(data)
    _check_version(spec)
    paths = spec.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise SourceInputError(
            "This OpenAPI spec has no paths, so there are no operations to read."
        )
    reader = _SpecReader(spec)
    reading = SourceReading()
    for operation_id, read in reader.operations(paths):
        try:
            reading.drafts.append(read())
        except _OperationError as problem:
            reading.failures.append(ReadFailure(operation_id, f"{operation_id} {problem}"))
        except RecursionError:
            reason = f"{operation_id} is nested too deeply to read; it was skipped."
            reading.failures.append(ReadFailure(operation_id, reason))
        except Exception as error:  # a shape we did not foresee must not cost the other operations
            reason = (
                f"{operation_id} has an unexpected shape and could not be read "
                f"({type(error).__name__}); check it with an OpenAPI validator."
            )
            reading.failures.append(ReadFailure(operation_id, reason))
    if reader.skipped_operations:
        reading.failures.append(
            ReadFailure(
                "spec",
                f"The spec has more than {MAX_OPERATIONS} operations; "
                f"{reader.skipped_operations} were not read.",
            )
        )
    return reading


# -- parsing -------------------------------------------------------------------------------------


def _parse(data: bytes) -> Any:
    if len(data) > MAX_SPEC_BYTES:
        raise SourceInputError(
            f"This OpenAPI spec is larger than {MAX_SPEC_BYTES // (1024 * 1024)} MB."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SourceInputError("This OpenAPI spec is not UTF-8 text.") from error
    if not text.strip():
        raise SourceInputError("This OpenAPI spec is empty.")
    if text.lstrip().startswith(("{", "[")):
        return _parse_json(text)
    return _parse_yaml(text)


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise SourceInputError(
            f"This OpenAPI spec is not valid JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg})."
        ) from error
    except RecursionError as error:
        raise SourceInputError("This OpenAPI spec is nested too deeply to read.") from error


def _parse_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=YAML_LOADER)  # noqa: S506 - a safe loader, C or Python
    except yaml.MarkedYAMLError as error:
        where = ""
        if error.problem_mark is not None:
            mark = error.problem_mark
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
        raise SourceInputError(
            f"This OpenAPI spec is not valid YAML{where}: {error.problem or 'unreadable'}."
        ) from error
    except RecursionError as error:
        raise SourceInputError("This OpenAPI spec is nested too deeply to read.") from error
    except (yaml.YAMLError, ValueError, TypeError) as error:
        raise SourceInputError("This OpenAPI spec is not valid YAML.") from error


def _check_version(spec: Any) -> None:
    if not isinstance(spec, dict):
        raise SourceInputError(
            "This file is not an OpenAPI spec: it should be a JSON or YAML object with an "
            '"openapi" field.'
        )
    if "openapi" not in spec and "swagger" in spec:
        version = _text(spec.get("swagger")) or "2.0"
        raise SourceInputError(
            f"This is a Swagger {version} spec. Swagger {version} is not supported: convert it to "
            "OpenAPI 3 (for example with swagger2openapi or editor.swagger.io) and upload it again."
        )
    version = _text(spec.get("openapi"))
    if not version:
        raise SourceInputError(
            'This file is not an OpenAPI spec: it has no "openapi" version field.'
        )
    if version != "3" and not version.startswith("3."):
        raise SourceInputError(
            f"OpenAPI {version[:20]} is not supported; only OpenAPI 3.x specs can be read."
        )


# -- reading operations --------------------------------------------------------------------------


@dataclass
class _Field:
    name: str
    type_label: str
    required: bool
    description: str
    children: list[_Field] = field(default_factory=list)


@dataclass
class _Shape:
    """An object schema with its composition (allOf, oneOf, anyOf) merged into one view."""

    properties: dict[str, tuple[Any, frozenset[str]]] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    alternatives: list[str] = field(default_factory=list)


class _SpecReader:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.skipped_operations = 0
        self._budget = SCHEMA_BUDGET

    def operations(self, paths: dict[Any, Any]) -> Iterator[tuple[str, Callable[[], ArticleDraft]]]:
        """(operation id, a callable reading it) for every operation, in spec order."""
        count = 0
        for raw_path, raw_item in paths.items():
            path = _text(raw_path)
            if path.startswith("x-"):
                continue
            item = self._path_item(raw_item)
            if item is None:
                yield (
                    f"Path {path[:200]}",
                    partial(_fail, "is not a path item object; check its indentation and $ref."),
                )
                continue
            methods = [method for method in HTTP_METHODS if method in item]
            for method in methods:
                count += 1
                if count > MAX_OPERATIONS:
                    self.skipped_operations += 1
                    continue
                operation_id = f"{method.upper()} {path}"
                yield operation_id, partial(self._operation_draft, path, method, item)

    def _path_item(self, raw_item: Any) -> dict[str, Any] | None:
        self._budget = SCHEMA_BUDGET
        try:
            item, _ = self._resolve(raw_item)
        except _OperationError:
            return None
        return item if isinstance(item, dict) else None

    def _operation_draft(self, path: str, method: str, item: dict[str, Any]) -> ArticleDraft:
        self._budget = SCHEMA_BUDGET
        operation = item[method]
        if not isinstance(operation, dict):
            raise _OperationError("is not an object; check its indentation.")
        fallback_title = f"{method.upper()} {path}"
        title = _one_line(operation.get("summary"), MAX_TITLE) or _one_line(
            operation.get("operationId"), MAX_TITLE
        )
        url = self._operation_url(path, item, operation)
        sections = [
            self._intro(operation, item),
            self._request_section(method, path, operation, url),
            self._parameters_section(item, operation),
            self._request_body_section(operation),
            self._responses_section(operation),
        ]
        content = "\n\n".join(section for section in sections if section)
        return ArticleDraft(
            external_id=fallback_title,
            title=title or fallback_title,
            content=content,
            url=url,
        )

    # -- sections --------------------------------------------------------------------------------

    def _intro(self, operation: dict[str, Any], item: dict[str, Any]) -> str:
        lines: list[str] = []
        if operation.get("deprecated") is True:
            lines.append("Deprecated: this operation may be removed in a future version.")
        description = _block_text(operation.get("description")) or _block_text(
            item.get("description")
        )
        if description:
            lines.append(description)
        tags = [_one_line(tag, 80) for tag in _as_list(operation.get("tags"))]
        if any(tags):
            lines.append("Tags: " + ", ".join(tag for tag in tags if tag))
        authentication = self._authentication(operation)
        if authentication:
            lines.append("Authentication: " + authentication)
        return "\n\n".join(lines)

    def _request_section(self, method: str, path: str, operation: dict[str, Any], url: str) -> str:
        lines = ["## Request", f"{method.upper()} {path}"]
        if url:
            lines.append(f"Full URL: {url}")
        operation_id = _one_line(operation.get("operationId"), 200)
        if operation_id:
            lines.append(f"Operation ID: {operation_id}")
        return "\n".join(lines)

    def _parameters_section(self, item: dict[str, Any], operation: dict[str, Any]) -> str:
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        # Operation parameters override path-level ones with the same name and location.
        for raw in _as_list(item.get("parameters")) + _as_list(operation.get("parameters")):
            parameter, _ = self._resolve(raw)
            if not isinstance(parameter, dict):
                raise _OperationError("has a parameter that is not an object.")
            name, location = _one_line(parameter.get("name"), 200), _text(parameter.get("in"))
            if not name or not location:
                raise _OperationError('has a parameter without a "name" or "in".')
            merged[(name, location)] = parameter
        if not merged:
            return ""
        lines = ["## Parameters"]
        lines.extend(self._parameter_line(parameter) for parameter in merged.values())
        return "\n".join(lines)

    def _parameter_line(self, parameter: dict[str, Any]) -> str:
        location = _one_line(parameter.get("in"), 20)
        required = location == "path" or parameter.get("required") is True
        schema = parameter.get("schema")
        if schema is None:
            schema = _first_media_schema(parameter.get("content"))
        resolved, name, _ = self._resolve_schema(schema, frozenset())
        details = [
            location,
            "required" if required else "optional",
            self._type_label(resolved, name),
        ]
        if parameter.get("deprecated") is True:
            details.append("deprecated")
        line = f"- {_one_line(parameter.get('name'), 200)} ({', '.join(details)})"
        description = _one_line(parameter.get("description"), MAX_FIELD_TEXT) or _one_line(
            _mapping(resolved).get("description"), MAX_FIELD_TEXT
        )
        return f"{line}: {description}" if description else line

    def _request_body_section(self, operation: dict[str, Any]) -> str:
        if "requestBody" not in operation:
            return ""
        body, _ = self._resolve(operation["requestBody"])
        if not isinstance(body, dict):
            raise _OperationError("has a requestBody that is not an object.")
        content = body.get("content")
        media_types = [_text(key) for key in content] if isinstance(content, dict) else []
        need = "required" if body.get("required") is True else "optional"
        lines = ["## Request body"]
        if media_types:
            label = "Content type" if len(media_types) == 1 else "Content types"
            lines.append(f"{label}: {', '.join(media_types[:10])} ({need})")
        description = _block_text(body.get("description"))
        if description:
            lines.append(description)
        lines.extend(self._schema_lines(_first_media_schema(content), indent=""))
        return "\n".join(lines)

    def _responses_section(self, operation: dict[str, Any]) -> str:
        responses = operation.get("responses")
        if responses is None:
            return ""
        if not isinstance(responses, dict):
            raise _OperationError("has responses that are not an object of status codes.")
        lines = ["## Responses"]
        for raw_status, raw_response in responses.items():
            status = _text(raw_status)
            if status.startswith("x-"):
                continue
            response, _ = self._resolve(raw_response)
            if not isinstance(response, dict):
                raise _OperationError(f"has a {status[:20]} response that is not an object.")
            description = _one_line(response.get("description"), MAX_FIELD_TEXT)
            lines.append(f"- {_status_label(status)}: {description or _reason_phrase(status)}")
            lines.extend(
                self._schema_lines(_first_media_schema(response.get("content")), indent="  ")
            )
        return "\n".join(lines) if len(lines) > 1 else ""

    # -- schemas ---------------------------------------------------------------------------------

    def _schema_lines(self, schema: Any, *, indent: str) -> list[str]:
        """A body's shape: what it is when not a plain object, then its fields, one per line."""
        if schema is None:
            return []
        resolved, name, active = self._resolve_schema(schema, frozenset())
        lines: list[str] = []
        target, target_active = resolved, active
        if _is_array(resolved):
            lines.append(f"{indent}A list of {self._type_label(resolved.get('items'), '')}.")
            target, _, target_active = self._resolve_schema(resolved.get("items"), active)
        fields = self._fields(target, target_active, nested=True)
        if not fields and not lines:
            label = self._type_label(resolved, name)
            if label not in ("object", "any"):
                lines.append(f"{indent}Body: {label}")
        lines.extend(_field_lines(fields, indent))
        return lines

    def _fields(self, schema: Any, active: frozenset[str], *, nested: bool) -> list[_Field]:
        shape = self._shape(schema, active, depth=0)
        fields: list[_Field] = []
        limit = MAX_FIELDS if nested else MAX_NESTED_FIELDS
        for name, (property_schema, property_active) in list(shape.properties.items())[:limit]:
            resolved, ref_name, resolved_active = self._resolve_schema(
                property_schema, property_active
            )
            inner, inner_name, inner_active = (
                self._resolve_schema(resolved.get("items"), resolved_active)
                if _is_array(resolved)
                else (resolved, ref_name, resolved_active)
            )
            # A schema that contains itself (User.manager: User) is named, not expanded again.
            is_cycle = bool(inner_name) and inner_name in property_active
            children: list[_Field] = []
            if nested and not is_cycle:
                children = self._fields(inner, inner_active, nested=False)
            fields.append(
                _Field(
                    name=name,
                    type_label=self._type_label(resolved, ref_name),
                    required=name in shape.required,
                    description=_one_line(_mapping(resolved).get("description"), MAX_FIELD_TEXT)
                    or _one_line(_mapping(property_schema).get("description"), MAX_FIELD_TEXT),
                    children=children,
                )
            )
        if len(shape.properties) > limit:
            fields.append(
                _Field(f"... and {len(shape.properties) - limit} more fields", "", False, "")
            )
        return fields

    def _shape(self, schema: Any, active: frozenset[str], depth: int) -> _Shape:
        """Merge properties across allOf (all apply) and oneOf/anyOf (any may apply)."""
        resolved, ref_name, resolved_active = self._resolve_schema(schema, active)
        shape = _Shape()
        if not isinstance(resolved, dict) or depth > MAX_COMPOSITION_DEPTH:
            return shape
        if ref_name and ref_name in active:
            return shape
        properties = resolved.get("properties")
        if isinstance(properties, dict):
            for key, value in properties.items():
                shape.properties[_text(key) or "?"] = (value, resolved_active)
        shape.required.update(_text(name) for name in _as_list(resolved.get("required")))
        for part in _as_list(resolved.get("allOf")):
            inner = self._shape(part, resolved_active, depth + 1)
            shape.properties.update(inner.properties)
            shape.required.update(inner.required)
            shape.alternatives.extend(inner.alternatives)
        for keyword in ("oneOf", "anyOf"):
            for part in _as_list(resolved.get(keyword)):
                inner = self._shape(part, resolved_active, depth + 1)
                for key, value in inner.properties.items():
                    shape.properties.setdefault(key, value)
        return shape

    def _type_label(self, schema: Any, ref_name: str, depth: int = 0) -> str:
        self._spend()
        if not isinstance(schema, dict):
            return ref_name or "any"
        if "$ref" in schema and depth < 3:
            resolved, inner_name, _ = self._resolve_schema(schema, frozenset())
            return self._type_label(resolved, inner_name, depth + 1)
        raw_type = schema.get("type")
        types = [raw_type] if isinstance(raw_type, str) else [_text(t) for t in _as_list(raw_type)]
        nullable = schema.get("nullable") is True or "null" in types
        types = [kind for kind in types if kind and kind != "null"]
        label = self._base_label(schema, types, ref_name, depth)
        enum = [_one_line(value, 60) for value in _as_list(schema.get("enum"))]
        if enum:
            shown = ", ".join(value for value in enum[:MAX_ENUM_VALUES] if value)
            more = ", ..." if len(enum) > MAX_ENUM_VALUES else ""
            label = f"{label}, one of: {shown}{more}"
        return f"{label} or null" if nullable else label

    def _base_label(
        self, schema: dict[str, Any], types: list[str], ref_name: str, depth: int
    ) -> str:
        if "array" in types or (not types and "items" in schema):
            if depth >= 3:
                return "array"
            return "array of " + self._type_label(schema.get("items"), "", depth + 1)
        alternatives = _as_list(schema.get("oneOf")) + _as_list(schema.get("anyOf"))
        if not types and alternatives and depth < 3:
            labels = [self._type_label(part, "", depth + 1) for part in alternatives[:6]]
            return "one of: " + " | ".join(labels)
        kind = " or ".join(types[:4]) or ("object" if "properties" in schema else "")
        if kind in ("", "object") and ref_name:
            return f"object ({ref_name})"
        fmt = _one_line(schema.get("format"), 40)
        if kind and fmt:
            return f"{kind} ({fmt})"
        return kind or "any"

    # -- references ------------------------------------------------------------------------------

    def _resolve_schema(
        self, schema: Any, active: frozenset[str]
    ) -> tuple[dict[str, Any], str, frozenset[str]]:
        """The schema behind any $ref chain, the name of the last ref, and the refs now open."""
        resolved, ref = self._resolve(schema)
        name = ref.rsplit("/", 1)[-1] if ref else ""
        return _mapping(resolved), name, (active | {name}) if name else active

    def _resolve(self, node: Any) -> tuple[Any, str]:
        """Follow local $refs; an external one (another file, a URL) is left as an empty schema,
        since fetching it would mean reaching outside the upload."""
        self._spend()
        ref = ""
        seen: set[str] = set()
        for _ in range(MAX_REF_HOPS):
            if not isinstance(node, dict) or "$ref" not in node:
                return node, ref
            target = node["$ref"]
            if not isinstance(target, str) or len(target) > MAX_REF_LENGTH:
                raise _OperationError("has a $ref that is not a short string.")
            if target in seen:
                raise _OperationError(f"has a $ref loop through {target}.")
            seen.add(target)
            ref = target
            if not target.startswith("#"):
                return {}, ref
            node = self._lookup(target)
        raise _OperationError(f"has a chain of more than {MAX_REF_HOPS} $refs.")

    def _lookup(self, ref: str) -> Any:
        node: Any = self.spec
        for raw_part in ref.lstrip("#").split("/")[1:] if ref != "#" else []:
            part = unquote(raw_part).replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise _OperationError(f"refers to {ref}, which is not in the spec.")
        return node

    def _spend(self) -> None:
        self._budget -= 1
        if self._budget < 0:
            raise _OperationError("has schemas too large or too deeply composed to read.")

    # -- where and how to call -------------------------------------------------------------------

    def _operation_url(self, path: str, item: dict[str, Any], operation: dict[str, Any]) -> str:
        for owner in (operation, item, self.spec):
            servers = owner.get("servers")
            if isinstance(servers, list) and servers:
                return _server_url(servers[0], path)
        return ""

    def _authentication(self, operation: dict[str, Any]) -> str:
        requirements = operation.get("security", self.spec.get("security"))
        if not isinstance(requirements, list):
            return ""
        if requirements == [] and "security" in operation:
            return "none"
        components = _mapping(self.spec.get("components"))
        schemes = _mapping(components.get("securitySchemes"))
        names: list[str] = []
        for requirement in requirements[:10]:
            for key in _mapping(requirement):
                name = _text(key)
                scheme, _ = self._resolve(schemes.get(name))
                kind = _scheme_label(_mapping(scheme))
                label = f"{name} ({kind})" if kind else name
                if label not in names:
                    names.append(label)
        if not names and any(requirement == {} for requirement in requirements):
            return "none"
        return ", ".join(names)


# -- helpers -------------------------------------------------------------------------------------


def _fail(reason: str) -> ArticleDraft:
    raise _OperationError(reason)


def _field_lines(fields: list[_Field], indent: str) -> list[str]:
    lines: list[str] = []
    for item in fields:
        if not item.type_label:
            lines.append(f"{indent}- {item.name}")
            continue
        need = "required" if item.required else "optional"
        line = f"{indent}- {item.name} ({need}, {item.type_label})"
        lines.append(f"{line}: {item.description}" if item.description else line)
        lines.extend(_field_lines(item.children, indent + "  "))
    return lines


def _first_media_schema(content: Any) -> Any:
    """The schema of the JSON media type if there is one (what clients mostly send), else of the
    first media type."""
    if not isinstance(content, dict) or not content:
        return None
    chosen = next((key for key in content if JSON_MEDIA_TYPE.match(_text(key))), None)
    media = content[chosen] if chosen is not None else next(iter(content.values()))
    return media.get("schema") if isinstance(media, dict) else None


def _server_url(server: Any, path: str) -> str:
    if not isinstance(server, dict):
        return ""
    url = _text(server.get("url"))
    variables = _mapping(server.get("variables"))
    for name, variable in variables.items():
        default = _text(_mapping(variable).get("default"))
        url = url.replace("{" + _text(name) + "}", default)
    if not url.startswith(("http://", "https://")) or "{" in url:
        return ""
    return url.rstrip("/") + path


def _scheme_label(scheme: dict[str, Any]) -> str:
    kind = _text(scheme.get("type"))
    if kind == "http":
        return f"HTTP {_text(scheme.get('scheme')) or 'auth'}"
    if kind == "apiKey":
        return f"API key in {_text(scheme.get('in'))} {_text(scheme.get('name'))}".strip()
    return {"oauth2": "OAuth 2", "openIdConnect": "OpenID Connect", "mutualTLS": "mutual TLS"}.get(
        kind, ""
    )


def _status_label(status: str) -> str:
    return "Any other status" if status == "default" else status


def _reason_phrase(status: str) -> str:
    if status.isdigit():
        try:
            return HTTPStatus(int(status)).phrase
        except ValueError:
            return ""
    return ""


def _is_array(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "array" or (isinstance(kind, list) and "array" in kind)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    """A scalar as text; anything else as ''. Never str() a container: a YAML alias bomb or a
    cyclic structure would blow up or never end."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return ""


def _one_line(value: Any, limit: int) -> str:
    text = re.sub(r"\s+", " ", _text(value)[: limit * 4]).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _block_text(value: Any) -> str:
    text = _text(value).strip()
    text = text if len(text) <= MAX_DESCRIPTION else text[:MAX_DESCRIPTION].rstrip() + "…"
    return _demote_headings(text)


def _demote_headings(markdown: str) -> str:
    """Headings in a description become level 3 or deeper, so they nest under the article and
    do not outrank its own "## Request" and "## Responses" sections."""
    lines = markdown.split("\n")
    in_code = False
    for index, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
        elif not in_code and (heading := MARKDOWN_HEADING.match(line)):
            level = max(3, len(heading.group(1)))
            lines[index] = "#" * level + line[len(heading.group(1)) :]
    return "\n".join(lines)
