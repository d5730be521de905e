"""Reading OpenAPI 3 specs into one article per operation, including hostile specs."""

from __future__ import annotations

import json
import time

import pytest

from knowledge.sources.drafts import ArticleDraft, SourceInputError, SourceReading
from knowledge.sources.openapi import MAX_OPERATIONS, read_openapi_spec

USERS_SPEC = """
openapi: 3.0.3
info: {title: Acme API, version: "1.4"}
servers:
  - url: https://{region}.api.acme.example/v1
    variables: {region: {default: eu}}
security: [{bearerAuth: []}]
paths:
  /users/{id}:
    parameters:
      - $ref: '#/components/parameters/UserId'
    get:
      summary: Get a user
      description: Returns one user of your workspace by id.
      operationId: getUser
      tags: [Users]
      parameters:
        - name: expand
          in: query
          description: Related objects to include.
          schema: {type: array, items: {type: string, enum: [team, billing]}}
        - name: X-Request-Id
          in: header
          required: false
          schema: {type: string, format: uuid}
      responses:
        200:
          description: The user.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/User'}
        '404': {$ref: '#/components/responses/NotFound'}
    delete:
      operationId: deleteUser
      responses:
        '204': {description: The user is deleted.}
  /users:
    post:
      tags: [Users]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              allOf:
                - $ref: '#/components/schemas/NewUser'
                - type: object
                  properties:
                    invite: {type: boolean, description: Send an invitation email.}
      responses:
        '201':
          description: Created.
          content:
            application/json:
              schema: {type: array, items: {$ref: '#/components/schemas/User'}}
        '409': {description: A user with this email exists.}
components:
  securitySchemes:
    bearerAuth: {type: http, scheme: bearer}
  parameters:
    UserId:
      name: id
      in: path
      required: true
      description: The user's id.
      schema: {type: integer, format: int64}
  responses:
    NotFound: {description: No user with this id.}
  schemas:
    NewUser:
      type: object
      required: [email]
      properties:
        email: {type: string, format: email, description: Where we send sign-in links.}
        name: {type: string, nullable: true}
        address:
          type: object
          properties:
            city: {type: string}
            country: {type: string, description: ISO 3166 code.}
    User:
      allOf:
        - $ref: '#/components/schemas/NewUser'
        - type: object
          required: [id]
          properties:
            id: {type: integer}
            status: {type: string, enum: [active, suspended]}
            manager: {$ref: '#/components/schemas/User'}
            reports: {type: array, items: {$ref: '#/components/schemas/User'}}
"""


def spec_json(paths: dict, **extra: object) -> bytes:
    return json.dumps(
        {"openapi": "3.1.0", "info": {"title": "t"}, "paths": paths, **extra}
    ).encode()


def by_id(reading: SourceReading) -> dict[str, ArticleDraft]:
    return {draft.external_id: draft for draft in reading.drafts}


def test_each_operation_becomes_an_article_named_by_method_and_path():
    reading = read_openapi_spec(USERS_SPEC.encode())

    assert reading.failures == []
    drafts = by_id(reading)
    assert list(drafts) == ["GET /users/{id}", "DELETE /users/{id}", "POST /users"]
    # Title: the summary, else the operationId, else the method and path.
    assert drafts["GET /users/{id}"].title == "Get a user"
    assert drafts["DELETE /users/{id}"].title == "deleteUser"
    assert drafts["POST /users"].title == "POST /users"
    assert drafts["GET /users/{id}"].url == "https://eu.api.acme.example/v1/users/{id}"


def test_an_article_tells_what_the_operation_does_and_how_to_call_it():
    content = by_id(read_openapi_spec(USERS_SPEC.encode()))["GET /users/{id}"].content

    assert content.startswith("Returns one user of your workspace by id.")
    assert "Tags: Users" in content
    assert "Authentication: bearerAuth (HTTP bearer)" in content
    assert "## Request\nGET /users/{id}\n" in content
    assert "## Parameters\n" in content
    # Path-level parameters apply to the operation; a path parameter is always required.
    assert "- id (path, required, integer (int64)): The user's id." in content
    assert (
        "- expand (query, optional, array of string, one of: team, billing): "
        "Related objects to include."
    ) in content
    assert "- X-Request-Id (header, optional, string (uuid))" in content


def test_responses_list_status_codes_with_their_fields():
    content = by_id(read_openapi_spec(USERS_SPEC.encode()))["GET /users/{id}"].content

    responses = content.split("## Responses\n", 1)[1]
    assert responses.startswith("- 200: The user.\n")
    assert "  - email (required, string (email)): Where we send sign-in links." in responses
    assert "  - name (optional, string or null)" in responses
    assert "  - address (optional, object)\n    - city (optional, string)" in responses
    assert "  - id (required, integer)" in responses
    assert "  - status (optional, string, one of: active, suspended)" in responses
    assert "- 404: No user with this id." in responses


def test_a_schema_that_contains_itself_is_named_not_expanded_forever():
    content = by_id(read_openapi_spec(USERS_SPEC.encode()))["GET /users/{id}"].content

    assert "  - manager (optional, object (User))\n" in content
    assert "  - reports (optional, array of object (User))\n" in content
    assert content.count("email (required") == 1


def test_the_request_body_lists_content_type_and_merged_fields():
    content = by_id(read_openapi_spec(USERS_SPEC.encode()))["POST /users"].content

    body = content.split("## Request body\n", 1)[1].split("## Responses", 1)[0]
    assert body.startswith("Content type: application/json (required)\n")
    assert "- email (required, string (email)): Where we send sign-in links." in body
    assert "  - country (optional, string): ISO 3166 code." in body
    assert "- invite (optional, boolean): Send an invitation email." in body
    responses = content.split("## Responses\n", 1)[1]
    assert "- 201: Created.\n  A list of object (User).\n  - email" in responses
    assert "- 409: A user with this email exists." in responses


def test_an_operation_without_a_description_or_response_text_still_reads_well():
    content = by_id(read_openapi_spec(USERS_SPEC.encode()))["DELETE /users/{id}"].content

    assert content.startswith("Authentication: bearerAuth (HTTP bearer)\n\n## Request\n")
    assert "Operation ID: deleteUser" in content
    assert content.endswith("## Responses\n- 204: The user is deleted.")


def test_json_specs_without_servers_have_no_url_and_fall_back_to_standard_reasons():
    spec = spec_json(
        {"/ping": {"get": {"summary": "Health check", "responses": {"503": {}, "default": {}}}}}
    )

    draft = read_openapi_spec(spec).drafts[0]

    assert draft.url == ""
    assert "- 503: Service Unavailable" in draft.content
    assert "- Any other status:" in draft.content


def test_a_broken_operation_becomes_a_failure_and_the_others_are_read():
    spec = spec_json(
        {
            "/orders": {
                "get": {"parameters": [{"$ref": "#/components/parameters/Missing"}]},
                "post": {"summary": "Create an order", "responses": {"201": {"description": "ok"}}},
            },
            "/refunds": {"post": 42},
            "/invoices": {"get": {"responses": ["200"]}},
            "/loop": {"get": {"parameters": [{"$ref": "#/components/parameters/A"}]}},
            "/nowhere": "not a path item",
        },
        components={
            "parameters": {
                "A": {"$ref": "#/components/parameters/B"},
                "B": {"$ref": "#/components/parameters/A"},
            }
        },
    )

    reading = read_openapi_spec(spec)

    assert [draft.external_id for draft in reading.drafts] == ["POST /orders"]
    reasons = {failure.external_id: failure.reason for failure in reading.failures}
    assert reasons == {
        "GET /orders": "GET /orders refers to #/components/parameters/Missing, which is not in "
        "the spec.",
        "POST /refunds": "POST /refunds is not an object; check its indentation.",
        "GET /invoices": "GET /invoices has responses that are not an object of status codes.",
        "GET /loop": "GET /loop has a $ref loop through #/components/parameters/A.",
        "Path /nowhere": "Path /nowhere is not a path item object; check its indentation and $ref.",
    }


def test_values_of_the_wrong_type_are_ignored_rather_than_printed():
    spec = spec_json(
        {
            "/odd": {
                "get": {
                    "summary": ["not", "text"],
                    "description": {"nested": "object"},
                    "tags": "Users",
                    "parameters": [{"name": "q", "in": "query", "schema": {"type": 7}}],
                    "responses": {"200": {"description": None}},
                }
            }
        }
    )

    draft = read_openapi_spec(spec).drafts[0]

    assert draft.title == "GET /odd"
    assert "- q (query, optional, any)" in draft.content
    assert "nested" not in draft.content and "Tags" not in draft.content
    assert "- 200: OK" in draft.content


def test_swagger_2_is_refused_by_name():
    with pytest.raises(SourceInputError, match=r"Swagger 2\.0 is not supported"):
        read_openapi_spec(b'swagger: "2.0"\ninfo: {title: old}\npaths: {}\n')


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"title: not a spec\n", 'no "openapi" version field'),
        (b'{"openapi": "4.0.0", "paths": {}}', "OpenAPI 4.0.0 is not supported"),
        (b"- a\n- list\n", "should be a JSON or YAML object"),
        (b"openapi: 3.0.0\npaths: {a: [}\n", r"not valid YAML \(line 2"),
        (b'{"openapi": "3.0.0", "paths": ', "not valid JSON"),
        (b'openapi: "3.0.0"\ninfo: {title: t}\n', "has no paths"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"", "empty"),
    ],
)
def test_unusable_specs_are_refused_with_a_clear_message(data, message):
    with pytest.raises(SourceInputError, match=message):
        read_openapi_spec(data)


def test_deeply_nested_json_is_refused_not_crashed():
    nested = b'{"openapi": "3.0.0", "paths": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    with pytest.raises(SourceInputError, match="nested too deeply"):
        read_openapi_spec(nested)


def test_a_yaml_alias_bomb_fails_its_operation_quickly():
    # Ten references per level, 24 levels: 10**24 schemas if anything expanded it.
    lines = [
        "openapi: 3.0.0",
        "x-bomb:",
        "  a0: &a0 {type: object, properties: {p: {type: string}}}",
    ]
    for level in range(1, 25):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"  a{level}: &a{level} {{type: object, allOf: [{refs}]}}")
    lines += [
        "paths:",
        "  /bomb:",
        "    post: {requestBody: {content: {application/json: {schema: *a24}}}}",
        "  /fine:",
        "    get: {summary: Still read, responses: {'200': {description: ok}}}",
    ]
    started = time.monotonic()

    reading = read_openapi_spec("\n".join(lines).encode())

    assert time.monotonic() - started < 5
    assert [draft.title for draft in reading.drafts] == ["Still read"]
    assert reading.failures[0].external_id == "POST /bomb"
    assert "too large or too deeply composed" in reading.failures[0].reason


def test_a_recursive_yaml_structure_is_read_to_a_bounded_depth():
    spec = b"""openapi: 3.0.0
paths:
  /tree:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: &node {type: object, properties: {child: *node}, allOf: [*node]}
"""

    content = read_openapi_spec(spec).drafts[0].content

    assert content.endswith(
        "- 200: ok\n  - child (optional, object)\n    - child (optional, object)"
    )


def test_a_huge_spec_is_cut_off_at_the_operation_limit():
    paths = {
        f"/things/{index}": {"get": {"summary": f"Thing {index}"}}
        for index in range(MAX_OPERATIONS + 3)
    }

    reading = read_openapi_spec(spec_json(paths))

    assert len(reading.drafts) == MAX_OPERATIONS
    assert reading.failures[-1].reason == (
        f"The spec has more than {MAX_OPERATIONS} operations; 3 were not read."
    )


def test_external_refs_are_not_fetched():
    spec = spec_json(
        {
            "/pets": {
                "get": {
                    "responses": {
                        "200": {
                            "description": "Pets.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "https://127.0.0.1:9/pet.json#/Pet"}
                                }
                            },
                        }
                    }
                }
            }
        }
    )

    draft = read_openapi_spec(spec).drafts[0]

    # Named by the reference, since its fields live in a file we were not given.
    assert draft.content.endswith("- 200: Pets.\n  Body: object (Pet)")


def test_headings_in_a_description_stay_below_the_article_sections():
    description = (
        "# Overview\nLists invoices.\n\n```bash\n# not a heading\n```\n#### Paging\nUse cursors."
    )
    spec = spec_json({"/invoices": {"get": {"description": description, "deprecated": True}}})

    content = read_openapi_spec(spec).drafts[0].content

    assert content.startswith(
        "Deprecated: this operation may be removed in a future version.\n\n"
        "### Overview\nLists invoices.\n\n```bash\n# not a heading\n```\n#### Paging\nUse cursors."
    )
