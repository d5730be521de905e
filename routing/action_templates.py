"""The built-in AI actions an admin can install with one click, and why their defaults are what
they are.

Every template is installed disabled, with a placeholder webhook URL on the reserved `.invalid`
domain (RFC 2606: it never resolves): nothing can run until the admin points it at their backend
and enables it, which is also when they review the risk and policy.

Who the customer is does not appear among the parameters on purpose. The request's payload
carries the conversation's verified customer; a model must never choose whose account is changed.
The one exception is the password reset, which by its nature serves someone who cannot sign in.

Defaults:
- send password reset link: write, autonomous. It changes nothing by itself and the link goes
  only to the address on file, so someone asking for another person's reset gains nothing; it is
  the most common request of all, and waiting for an agent would defeat the point. The backend
  should rate-limit it per address.
- export data to CSV: read, approval. It changes nothing, but the customer's data leaves the
  system; any agent (read-level approvers) confirms the requester owns the account first.
- add a seat: write, approval. It changes what the customer pays.
- issue refund: write, approval. Money leaves the company; bounded at 10,000 per request.
- cancel subscription, delete account: destructive, approval. Destructive actions can never run by
  themselves, and by default only admins may approve them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from routing.models import ActionPolicy, ActionRisk

PLACEHOLDER_WEBHOOK_HOST = "your-backend.example.invalid"

REASON = {
    "type": "string",
    "maxLength": 500,
    "description": "Why, in the customer's words or the agent's.",
}


@dataclass(frozen=True)
class ActionTemplate:
    key: str
    name: str
    description: str
    risk: ActionRisk
    policy: ActionPolicy
    example_phrasings: tuple[str, ...]
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    required: tuple[str, ...] = ()

    @property
    def parameters(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": self.properties,
            "required": list(self.required),
            "additionalProperties": False,
        }

    @property
    def placeholder_webhook_url(self) -> str:
        return f"https://{PLACEHOLDER_WEBHOOK_HOST}/support-actions/{self.key}"


ACTION_TEMPLATES: tuple[ActionTemplate, ...] = (
    ActionTemplate(
        key="send_password_reset",
        name="Send password reset link",
        description="Email a password reset link to the address on file for the account.",
        risk=ActionRisk.WRITE,
        policy=ActionPolicy.AUTONOMOUS,
        example_phrasings=(
            "I forgot my password",
            "I can't log in to my account",
            "Send me a password reset link",
            "How do I reset my password?",
        ),
        properties={
            "email": {
                "type": "string",
                "maxLength": 254,
                "description": "The email address the account signs in with.",
            }
        },
        required=("email",),
    ),
    ActionTemplate(
        key="export_data_csv",
        name="Export data to CSV",
        description="Email the customer a CSV export of their account's data.",
        risk=ActionRisk.READ,
        policy=ActionPolicy.APPROVAL,
        example_phrasings=(
            "Can I export my data?",
            "Send me a CSV of my invoices",
            "I need a download of all my contacts",
            "Export everything to a spreadsheet",
        ),
        properties={
            "dataset": {
                "type": "string",
                "enum": ["contacts", "invoices", "usage", "everything"],
                "description": "Which data to export.",
            },
            "period_days": {
                "type": "integer",
                "minimum": 1,
                "maximum": 3650,
                "description": "How many days back, up to today.",
            },
        },
        required=("dataset",),
    ),
    ActionTemplate(
        key="add_seat",
        name="Add a seat",
        description="Add paid seats to the customer's subscription, billed pro rata.",
        risk=ActionRisk.WRITE,
        policy=ActionPolicy.APPROVAL,
        example_phrasings=(
            "Add a seat for my new colleague",
            "We need two more licences",
            "Can you add another user to our plan?",
        ),
        properties={
            "seats": {
                "type": "integer",
                "minimum": 1,
                "maximum": 50,
                "description": "How many seats to add.",
            }
        },
        required=("seats",),
    ),
    ActionTemplate(
        key="issue_refund",
        name="Issue refund",
        description="Refund an amount of a payment to the customer's original payment method.",
        risk=ActionRisk.WRITE,
        policy=ActionPolicy.APPROVAL,
        example_phrasings=(
            "I want a refund",
            "I was charged twice, please refund me",
            "Can I get my money back?",
            "Refund my last invoice",
        ),
        properties={
            "amount": {
                "type": "number",
                "minimum": 0.01,
                "maximum": 10000,
                "description": "The amount to refund.",
            },
            "currency": {
                "type": "string",
                "enum": ["USD", "EUR", "GBP", "BRL", "CAD", "AUD"],
                "description": "ISO 4217 currency code of the payment.",
            },
            "reason": REASON,
        },
        required=("amount", "currency", "reason"),
    ),
    ActionTemplate(
        key="cancel_subscription",
        name="Cancel subscription",
        description="Cancel the customer's subscription, now or at the end of the billing period.",
        risk=ActionRisk.DESTRUCTIVE,
        policy=ActionPolicy.APPROVAL,
        example_phrasings=(
            "Cancel my subscription",
            "I want to stop paying",
            "Please don't renew my plan",
            "How do I cancel?",
        ),
        properties={
            "when": {
                "type": "string",
                "enum": ["end_of_period", "immediately"],
                "description": "When the subscription ends.",
            },
            "reason": REASON,
        },
        required=("when",),
    ),
    ActionTemplate(
        key="delete_account",
        name="Delete account",
        description="Permanently delete the customer's account and all its data.",
        risk=ActionRisk.DESTRUCTIVE,
        policy=ActionPolicy.APPROVAL,
        example_phrasings=(
            "Delete my account",
            "Remove all my data",
            "I want to close my account for good",
            "Erase my personal data (GDPR)",
        ),
        properties={"reason": REASON},
    ),
)
