"""An LLM flow offers the workspace's usable AI actions to the model as tools: what is offered,
what becomes of the model's tool calls (the decision's proposal, or ignored with the reason in
the trace), and that a proposal only ever asks for an action: the request service applies the
policy, so whatever the model calls, nothing destructive runs without an approver."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from haystack import Document
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from console.models import Workspace
from conversations.action_requests import action_request_approve, action_request_propose
from conversations.models import (
    ActionRequest,
    ActionRequestStatus,
    Conversation,
    Message,
    Sender,
)
from conversations.selectors import messages_after
from conversations.services import conversation_start
from routing import pipeline
from routing.actions import action_create, action_templates_install, action_update
from routing.components.llm_answer_generator import TOOLS_INSTRUCTION, LLMAnswerGenerator
from routing.flow_settings import DEFAULT_HANDOFF_MESSAGES
from routing.models import Action, ActionPolicy, ActionRisk, DecisionTrace
from routing.pipeline import MessageContext
from routing.services import flow_publish, flow_settings_update, flow_simulate
from tests.routing.fake_backend import FakeBackend
from tests.routing.fake_openai import FakeOpenAI
from tests.routing.test_pipeline_llm import decide, publish_llm_flow

pytestmark = pytest.mark.django_db

REFUND_QUESTION = "I bought the annual plan last week. Are annual plans refunded?"
REFUND_ANSWER = "Annual plans are refunded in full within 14 days of purchase [1]."
REFUND = {"amount": 120, "currency": "EUR", "reason": "Bought the wrong plan"}
WAITING = "Your refund request is waiting for approval by our team."


@pytest.fixture(autouse=True)
def fresh_generators() -> Iterator[None]:
    """The flow keeps one generator per endpoint setting, and it remembers an endpoint that
    refused tools: a later test's fake could get the same port, so each test starts afresh."""
    pipeline._llm_generator.cache_clear()
    yield
    pipeline._llm_generator.cache_clear()


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks) -> Callable[[], AbstractContextManager[Any]]:
    """Runs what the code in the `with` block scheduled on commit (the webhook), as a commit
    would: tests run in a transaction that never commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def actions(workspace: Workspace, fake_backend: FakeBackend) -> dict[str, Action]:
    """The built-in templates, pointed at the fake backend and enabled."""
    installed = action_templates_install(workspace=workspace).actions
    return {
        action.key: action_update(
            action=action, changes={"webhook_url": fake_backend.url, "enabled": True}
        )
        for action in installed
    }


@pytest.fixture
def llm_flow(synced_source, workspace, admin, fake_openai: FakeOpenAI) -> FakeOpenAI:
    publish_llm_flow(workspace, admin, fake_openai.base_url)
    fake_openai.reply = REFUND_ANSWER
    return fake_openai


@pytest.fixture
def conversation(workspace: Workspace) -> Conversation:
    return conversation_start(
        workspace=workspace,
        customer_data={"external_id": "u-42", "name": "Ana", "email": "ana@example.com"},
        verified=True,
    )


def customer_message(conversation: Conversation, text: str) -> Message:
    return Message.objects.create(
        conversation=conversation,
        workspace_id=conversation.workspace_id,
        sender=Sender.CUSTOMER,
        text=text,
    )


def customer_sees(conversation: Conversation) -> list[str]:
    return [m.text for m in messages_after(conversation=conversation, customer_view=True)]


def webhooks_for(backend: FakeBackend) -> list[str]:
    """The actions the company's backend was called for."""
    return [json.loads(received.body)["action"] for received in backend.received]


def answer_stage(decision) -> dict[str, Any]:
    return decision.trace["stages"]["answer"]


# --- what the model is offered -------------------------------------------------------------------


def test_the_model_is_offered_the_usable_actions_with_their_schemas(
    workspace, actions, llm_flow: FakeOpenAI
):
    action_update(action=actions["delete_account"], changes={"policy": ActionPolicy.NEVER})
    action_update(action=actions["add_seat"], changes={"enabled": False})

    decide(workspace, REFUND_QUESTION)

    offered = {tool["function"]["name"]: tool["function"] for tool in llm_flow.last_tools}
    assert sorted(offered) == [
        "cancel_subscription",
        "export_data_csv",
        "issue_refund",
        "send_password_reset",
    ]
    assert all(tool["type"] == "function" for tool in llm_flow.last_tools)
    refund = Action.objects.get(workspace=workspace, key="issue_refund")
    assert offered["issue_refund"]["parameters"] == refund.parameters
    assert offered["issue_refund"]["description"].startswith(refund.description)
    assert f'"{refund.example_phrasings[0]}"' in offered["issue_refund"]["description"]
    assert TOOLS_INSTRUCTION in llm_flow.last_messages[0]["content"]


def test_without_usable_actions_no_tools_are_sent_and_the_flow_answers(
    workspace, llm_flow: FakeOpenAI
):
    action_create(
        workspace=workspace,
        key="wire_money",
        name="Wire money",
        description="Send money anywhere.",
        risk=ActionRisk.WRITE,
        policy=ActionPolicy.APPROVAL,
        enabled=False,  # the only action, and disabled
    )

    decision = decide(workspace, REFUND_QUESTION)

    assert decision.outcome == "answer", decision.trace
    assert decision.reply.startswith("Annual plans are refunded in full within 14 days")
    assert "tools" not in llm_flow.requests[-1]
    assert TOOLS_INSTRUCTION not in llm_flow.last_messages[0]["content"]
    assert decision.action_call is None
    assert answer_stage(decision)["tools_offered"] == []


# --- what becomes of a tool call -----------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_a_tool_call_is_the_decisions_proposal_and_is_traced(
    workspace, actions, llm_flow: FakeOpenAI, stream
):
    llm_flow.tool_calls = [{"name": "issue_refund", "arguments": REFUND}]
    pieces: list[str] = []

    decision = decide(
        workspace, REFUND_QUESTION, streaming_callback=pieces.append if stream else None
    )

    assert decision.outcome == "answer", decision.trace
    assert decision.reply.startswith("Annual plans are refunded in full within 14 days")
    assert decision.action_call == {"key": "issue_refund", "parameters": REFUND}
    assert answer_stage(decision)["action_call"] == decision.action_call
    assert answer_stage(decision)["tool_calls_ignored"] == []
    if stream:
        assert decision.reply.startswith("".join(pieces).strip())


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_a_tool_call_without_a_reply_passes_the_customer_to_the_team(
    workspace, actions, llm_flow: FakeOpenAI, stream
):
    llm_flow.reply = ""
    llm_flow.tool_calls = [{"name": "issue_refund", "arguments": {"currency": "EUR"}}]

    decision = decide(
        workspace, REFUND_QUESTION, streaming_callback=(lambda text: None) if stream else None
    )

    assert (decision.outcome, decision.reason) == ("handoff", "low_confidence")
    assert decision.reply == DEFAULT_HANDOFF_MESSAGES["en"]
    assert decision.action_call == {"key": "issue_refund", "parameters": {"currency": "EUR"}}
    assert answer_stage(decision)["error"] == "action call without a reply"


def test_a_tool_call_survives_a_reply_the_guard_rejects(workspace, actions, llm_flow: FakeOpenAI):
    llm_flow.reply = "Sure, refunds are possible for 365 days, no questions asked [1]."
    llm_flow.tool_calls = [{"name": "issue_refund", "arguments": REFUND}]

    decision = decide(workspace, REFUND_QUESTION)

    assert (decision.outcome, decision.reason) == ("handoff", "low_confidence")
    assert "365" not in decision.reply
    assert decision.action_call == {"key": "issue_refund", "parameters": REFUND}


BROKEN_JSON = '{"amount": 12, "currency": '


# The arguments are parsed apart for a plain and a streamed answer: both are tried for those.
@pytest.mark.parametrize(
    ("call", "ignored", "stream"),
    [
        (
            {"name": "wire_money", "arguments": {"amount": 10}},
            {"tool": "wire_money", "why": "not one of the actions offered"},
            False,
        ),
        (
            {"name": "delete_account", "arguments": {}},  # policy never: not offered
            {"tool": "delete_account", "why": "not one of the actions offered"},
            False,
        ),
        *(
            (
                {"name": "issue_refund", "arguments": arguments},
                {"tool": tool, "why": why},
                stream,
            )
            for arguments, tool, why in (
                (BROKEN_JSON, "", "arguments are not valid JSON"),
                ('["EUR", 12]', "issue_refund", "arguments are not a JSON object"),
            )
            for stream in (False, True)
        ),
    ],
    ids=[
        "unknown",
        "never",
        "broken-json-plain",
        "broken-json-streamed",
        "not-an-object-plain",
        "not-an-object-streamed",
    ],
)
def test_an_unusable_tool_call_is_ignored_and_the_trace_says_why(
    workspace, actions, llm_flow: FakeOpenAI, call, ignored, stream
):
    action_update(action=actions["delete_account"], changes={"policy": ActionPolicy.NEVER})
    llm_flow.tool_calls = [call]

    decision = decide(
        workspace, REFUND_QUESTION, streaming_callback=(lambda text: None) if stream else None
    )

    assert decision.outcome == "answer", decision.trace
    assert decision.reply.startswith("Annual plans are refunded in full within 14 days")
    assert decision.action_call is None
    assert answer_stage(decision)["tool_calls_ignored"] == [ignored]


def test_the_simulator_shows_the_action_the_model_asked_for(
    workspace, actions, llm_flow: FakeOpenAI
):
    llm_flow.tool_calls = [{"name": "issue_refund", "arguments": REFUND}]

    decision, record = flow_simulate(
        flow=workspace.flows.get(), message=REFUND_QUESTION, context=MessageContext()
    )

    stored = DecisionTrace.objects.get(pk=record.pk).trace["stages"]["answer"]
    assert stored["action_call"] == {"key": "issue_refund", "parameters": REFUND}
    assert decision.action_call == stored["action_call"]
    assert ActionRequest.objects.count() == 0  # simulating asks for nothing


@pytest.mark.parametrize(
    "arguments",
    ['{"amount": 1e999, "currency": "EUR"}', '{"amount": NaN}', '{"reason": "a\\u0000b"}'],
    ids=["infinity", "nan", "nul-character"],
)
def test_arguments_the_database_cannot_store_are_ignored_and_the_trace_is_kept(
    workspace, actions, llm_flow: FakeOpenAI, arguments
):
    """Python reads them as JSON; PostgreSQL would refuse to store them, failing the reply."""
    llm_flow.tool_calls = [{"name": "issue_refund", "arguments": arguments}]

    decision, record = flow_simulate(
        flow=workspace.flows.get(), message=REFUND_QUESTION, context=MessageContext()
    )

    assert decision.outcome == "answer" and decision.action_call is None
    stored = DecisionTrace.objects.get(pk=record.pk).trace["stages"]["answer"]
    assert stored["tool_calls_ignored"] == [
        {"tool": "issue_refund", "why": "arguments are not valid JSON"}
    ]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_a_reply_with_nul_characters_is_stored_without_them(
    workspace, llm_flow: FakeOpenAI, conversation, stream
):
    llm_flow.reply = "Annual plans are refunded\x00 in full within 14 days of purchase [1]."
    pieces: list[str] = []

    decision = decide(
        workspace, REFUND_QUESTION, streaming_callback=pieces.append if stream else None
    )
    stored = Message.objects.create(
        conversation=conversation,
        workspace_id=conversation.workspace_id,
        sender=Sender.AI,
        text=decision.reply,
    )

    assert stored.text.startswith("Annual plans are refunded in full within 14 days")
    assert "\x00" not in "".join(pieces)


def test_of_several_calls_only_the_first_usable_one_is_proposed(
    workspace, actions, llm_flow: FakeOpenAI
):
    llm_flow.tool_calls = [
        {"name": "wire_money", "arguments": {}},
        {"name": "add_seat", "arguments": {"seats": 2}},
        {"name": "issue_refund", "arguments": REFUND},
    ]

    decision = decide(workspace, REFUND_QUESTION, streaming_callback=lambda text: None)

    assert decision.action_call == {"key": "add_seat", "parameters": {"seats": 2}}
    assert answer_stage(decision)["tool_calls_ignored"] == [
        {"tool": "wire_money", "why": "not one of the actions offered"},
        {"tool": "issue_refund", "why": "only one action per message is asked for"},
    ]


def test_an_endpoint_without_tool_support_still_answers_and_is_not_asked_again(
    workspace, actions, llm_flow: FakeOpenAI
):
    llm_flow.failure = "no_tools"

    first = decide(workspace, REFUND_QUESTION)
    second = decide(workspace, REFUND_QUESTION)

    for decision in (first, second):
        assert decision.outcome == "answer", decision.trace
        assert decision.reply.startswith("Annual plans are refunded in full within 14 days")
        assert answer_stage(decision)["tools_offered"] == []
    offered_tools = ["tools" in body for body in llm_flow.requests]
    assert offered_tools == [True, False, False]  # refused once, then no longer offered


def test_the_offline_flow_has_no_model_call_to_propose(synced_source, workspace, admin, actions):
    """Its proposal comes from the example phrasings, in action_request_propose."""
    flow = workspace.flows.get()
    flow = flow_settings_update(
        flow=flow,
        settings={**flow.settings, "confidence_threshold": 0.4},
        expected_revision=flow.draft_revision,
    )
    flow_publish(flow=flow, published_by=admin)

    decision = decide(workspace, "How long is the password reset link valid?")

    assert decision.outcome == "answer", decision.trace
    assert decision.action_call is None
    assert "action_call" not in answer_stage(decision)


# --- the proposal goes through the request service -----------------------------------------------


def test_a_model_asking_for_an_approval_action_makes_a_pending_request(
    workspace, actions, llm_flow: FakeOpenAI, conversation, fake_backend, after_commit
):
    llm_flow.tool_calls = [{"name": "issue_refund", "arguments": REFUND}]
    decision = decide(workspace, REFUND_QUESTION)
    message = customer_message(conversation, REFUND_QUESTION)

    with after_commit():
        request = action_request_propose(
            conversation=conversation, message=message, proposed=decision.action_call
        )

    assert request is not None and request.requested_by_ai
    assert (request.action.key, request.status) == ("issue_refund", ActionRequestStatus.PENDING)
    assert request.parameters == REFUND
    assert customer_sees(conversation)[-1] == WAITING
    assert fake_backend.received == []


def test_the_models_proposal_replaces_the_phrasing_match(
    workspace, actions, conversation, fake_backend, after_commit
):
    # "I forgot my password" is an example phrasing of the password reset: the model's choice
    # wins over it when the model made one.
    message = customer_message(conversation, "I forgot my password")
    with after_commit():
        request = action_request_propose(
            conversation=conversation,
            message=message,
            proposed={"key": "add_seat", "parameters": {"seats": 1}},
        )

    assert request is not None and request.action.key == "add_seat"
    assert ActionRequest.objects.filter(conversation=conversation).count() == 1
    assert fake_backend.received == []  # add_seat waits for approval


def test_a_model_cannot_make_a_destructive_action_run_by_itself(
    workspace, admin, actions, llm_flow: FakeOpenAI, conversation, fake_backend, after_commit
):
    with pytest.raises(ValidationError, match="destructive action can never run by itself"):
        action_update(action=actions["delete_account"], changes={"policy": "autonomous"})
    llm_flow.tool_calls = [{"name": "delete_account", "arguments": {"reason": "now!"}}]
    decision = decide(workspace, "Delete my account right now. Are annual plans refunded?")
    message = customer_message(conversation, "Delete my account right now.")

    with after_commit():
        request = action_request_propose(
            conversation=conversation, message=message, proposed=decision.action_call
        )

    assert request is not None and request.status == ActionRequestStatus.PENDING
    assert fake_backend.received == []  # no webhook without an approver
    with after_commit():
        action_request_approve(request=request, by=admin)
    assert webhooks_for(fake_backend) == ["delete_account"]  # only once an admin approved


def test_an_autonomous_action_the_model_asks_for_runs_by_its_policy(
    workspace, actions, conversation, fake_backend, after_commit
):
    message = customer_message(conversation, "I can't sign in")
    with after_commit():
        request = action_request_propose(
            conversation=conversation,
            message=message,
            proposed={"key": "send_password_reset", "parameters": {"email": "ana@example.com"}},
        )

    assert request is not None
    assert ActionRequest.objects.get(pk=request.pk).status == ActionRequestStatus.EXECUTED
    assert webhooks_for(fake_backend) == ["send_password_reset"]
    assert customer_sees(conversation)[-1] == "Done: we sent a reset link to the address on file."


def test_required_parameters_the_model_left_out_are_for_the_approver(
    actions, conversation, fake_backend
):
    message = customer_message(conversation, "Refund me")
    request = action_request_propose(
        conversation=conversation,
        message=message,
        proposed={"key": "issue_refund", "parameters": {"reason": "Refund me"}},
    )

    assert request is not None and request.status == ActionRequestStatus.PENDING
    assert request.missing_parameters == ["amount", "currency"]


@pytest.mark.parametrize(
    "proposed",
    [
        {"key": "wire_money", "parameters": {}},  # another workspace's action
        {"key": "no_such_action"},
        {"key": 42, "parameters": {}},
        {"parameters": REFUND},
        {"key": "issue_refund", "parameters": "everything"},
        {"key": "issue_refund", "parameters": {**REFUND, "amount": -5}},
        {"key": "issue_refund", "parameters": {**REFUND, "account": "someone-else"}},
        {"key": "issue_refund", "parameters": {**REFUND, "amount": 10**9}},
    ],
    ids=[
        "other-workspace",
        "unknown",
        "key-not-text",
        "no-key",
        "parameters-not-object",
        "bad-value",
        "extra-parameter",
        "over-the-limit",
    ],
)
def test_a_bad_proposal_is_refused_quietly_and_nothing_is_requested(
    workspace, other_workspace, actions, conversation, fake_backend, after_commit, proposed
):
    action_create(
        workspace=other_workspace,
        key="wire_money",
        name="Wire money",
        description="Send money anywhere.",
        risk=ActionRisk.WRITE,
        policy=ActionPolicy.AUTONOMOUS,
        webhook_url=fake_backend.url,
        enabled=True,
    )
    message = customer_message(conversation, "Give me money")

    with after_commit():
        request = action_request_propose(
            conversation=conversation, message=message, proposed=proposed
        )

    assert request is None
    assert ActionRequest.objects.count() == 0
    assert fake_backend.received == []


def test_an_action_disabled_after_the_model_called_it_is_refused(
    workspace, actions, llm_flow: FakeOpenAI, conversation
):
    llm_flow.tool_calls = [{"name": "issue_refund", "arguments": REFUND}]
    decision = decide(workspace, REFUND_QUESTION)
    action_update(action=actions["issue_refund"], changes={"enabled": False})

    request = action_request_propose(
        conversation=conversation,
        message=customer_message(conversation, REFUND_QUESTION),
        proposed=decision.action_call,
    )

    assert decision.action_call is not None and request is None
    assert ActionRequest.objects.count() == 0


# --- property: whatever the model calls, nothing destructive runs without an approver ------------

DESTRUCTIVE = ("cancel_subscription", "delete_account")
# A call each action's schema accepts: the model is often right, and then the policy alone decides.
VALID_ARGUMENTS: dict[str, dict[str, Any]] = {
    "delete_account": {"reason": "bye"},
    "cancel_subscription": {"when": "immediately"},
    "issue_refund": REFUND,
    "send_password_reset": {"email": "ana@example.com"},
    "add_seat": {"seats": 2},
    "export_data_csv": {},
}
PASSAGES = [
    Document(
        content="Annual plans are refunded in full within 14 days of purchase.",
        meta={"external_id": "en/billing.md", "title": "Billing", "url": "", "locale": "en"},
    )
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
model_arguments = st.one_of(
    st.dictionaries(
        st.sampled_from(("amount", "currency", "reason", "email", "when", "seats", "account")),
        json_values | st.sampled_from(("EUR", "immediately", "end_of_period", "ana@example.com")),
        max_size=4,
    ),
    st.sampled_from(("{broken", "[1, 2]", '"all"', "", "null", '{"amount": 1e999}')),
)
well_formed_call = st.sampled_from(sorted(VALID_ARGUMENTS)).map(
    lambda key: {"name": key, "arguments": VALID_ARGUMENTS[key]}
)
any_call = st.fixed_dictionaries(
    {"name": st.sampled_from((*VALID_ARGUMENTS, "wire_money")), "arguments": model_arguments}
)
# Destructive calls drawn more often, so that many examples ask for one.
model_calls = st.lists(
    st.one_of(
        well_formed_call,
        st.sampled_from(DESTRUCTIVE).map(lambda key: {"name": key, "arguments": {}}),
        any_call,
    ),
    min_size=1,
    max_size=3,
)
policies = st.fixed_dictionaries(
    {
        "delete_account": st.sampled_from(("never", "suggest", "approval")),
        "cancel_subscription": st.sampled_from(("never", "suggest", "approval")),
        "issue_refund": st.sampled_from(("never", "suggest", "approval", "autonomous")),
        "send_password_reset": st.sampled_from(("suggest", "approval", "autonomous")),
    }
)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(calls=model_calls, policy=policies, stream=st.booleans())
def test_whatever_the_model_calls_nothing_destructive_runs_without_an_approver(
    calls, policy, stream, workspace, actions, fake_openai, fake_backend, after_commit
):
    fake_backend.received.clear()
    for key, value in policy.items():
        action_update(action=actions[key], changes={"policy": value})
    fake_openai.reply = REFUND_ANSWER
    fake_openai.tool_calls = calls
    generator = LLMAnswerGenerator(base_url=fake_openai.base_url, model="m", timeout_seconds=5)
    conversation = conversation_start(workspace=workspace, customer_data=None)

    answer = generator.run(
        query="Refund and delete everything",
        documents=PASSAGES,
        streaming_callback=(lambda text: None) if stream else None,
        tools=pipeline.action_tools(workspace.pk),
    )
    with after_commit():
        request = action_request_propose(
            conversation=conversation,
            message=customer_message(conversation, "Refund and delete everything"),
            proposed=answer["action_call"],
        )

    ran = webhooks_for(fake_backend)
    assert not set(ran) & set(DESTRUCTIVE), ran
    if request is not None:
        request.refresh_from_db()
        hypothesis_event(f"{request.action.key} -> {request.status}")
        if request.action.risk == ActionRisk.DESTRUCTIVE:
            assert request.status in (ActionRequestStatus.PENDING, ActionRequestStatus.SUGGESTED)
        if request.status == ActionRequestStatus.EXECUTED:
            assert request.action.policy == ActionPolicy.AUTONOMOUS
    assert len(ran) <= 1 and all(policy.get(key) == "autonomous" for key in ran)


def test_the_reply_job_turns_the_models_tool_call_into_a_pending_request(
    workspace, actions, llm_flow: FakeOpenAI, conversation, fake_backend, after_commit
):
    """Through the whole reply job: the customer's message, the LLM's tool call, the request."""
    from conversations.services import conversation_reply, customer_message_post

    llm_flow.tool_calls = [{"name": "issue_refund", "arguments": REFUND}]
    with after_commit():
        message, _ = customer_message_post(
            conversation=conversation,
            text=REFUND_QUESTION,
            client_id="m-1",
            reply_in_background=False,
        )
        conversation_reply(conversation_id=conversation.pk, message_id=message.pk)

    request = ActionRequest.objects.get(conversation=conversation)
    assert (request.action.key, request.status) == ("issue_refund", ActionRequestStatus.PENDING)
    assert request.requested_by_ai and request.parameters == REFUND
    assert customer_sees(conversation)[-1] == WAITING
    assert fake_backend.received == []  # nothing runs before an approver decides
