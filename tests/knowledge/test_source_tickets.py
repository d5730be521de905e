"""Past resolved tickets become problem/resolution articles, scrubbed of personal data."""

from __future__ import annotations

import csv
import io
import json

import pytest

from knowledge.sources.drafts import SourceInputError
from knowledge.sources.tickets import read_tickets, scrub_personal_data

# -- scrubbing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "+1 (555) 123-4567",
        "+1 555 123 4567",
        "+44 20 7946 0958",
        "+44 (0)20 7946 0958",
        "+33 6 12 34 56 78",
        "+4915112345678",
        "0044 20 7946 0958",
        "(555) 123-4567",
        "555-123-4567",
        "555.123.4567",
        "1-800-555-0199",
        "020 7946 0958",
        "07700 900123",
        "06 12 34 56 78",
        "06.12.34.56.78",
        "0612345678",
        "030/1234567",
    ],
)
def test_phone_numbers_are_replaced(phone):
    assert scrub_personal_data(f"Call me on {phone}, thanks.") == "Call me on [phone], thanks."


@pytest.mark.parametrize(
    "text",
    [
        "Fixed in 2.13.0, also in version 10.4.12 and v3.11.7.",
        "It broke on 2024-05-01 and again at 2024-05-01T10:30:00.",
        "Renewal on 01/05/2024 or 01.05.2024.",
        "The outage lasted from 12:30 to 14:05:59.",
        "You were charged $1,299.99, not 1.234,56 €, nor EUR 1 234 567 or 49.99 USD.",
        "See order #48213, order 123456, invoice no. 0612345678 and ORD-2024-000123.",
        "Build 20240501 on server 192.168.100.200.",
        "We ship sizes 10 12 14 16 since 2019 2020 2021.",
        "SKU 123-456 is back; 10 000 users asked. Ref 12345678.",
        "Plain ids like 12345678 and 1234 5678 9012 3456 are not cards or phones.",
    ],
)
def test_versions_dates_times_amounts_and_ids_are_left_alone(text):
    assert scrub_personal_data(text) == text


def test_emails_and_cards_are_replaced():
    text = (
        "Mail jane.doe+billing@mail.acme.example.co.uk or BOB@Example.COM. "
        "Cards 4111 1111 1111 1111, 4111-1111-1111-1111 and 378282246310005 were charged."
    )

    assert scrub_personal_data(text) == (
        "Mail [email] or [email]. Cards [card], [card] and [card] were charged."
    )


def test_a_long_number_that_fails_the_card_check_is_kept():
    assert scrub_personal_data("Tracking 4111 1111 1111 1112 arrived") == (
        "Tracking 4111 1111 1111 1112 arrived"
    )


def test_scrubbing_a_mixed_message():
    message = (
        "Hi, I'm jane@acme.example, phone +1 555 123 4567. Since v2.13.0 on 2024-05-01 "
        "order #4821 for $1,299.99 failed on card 5500 0000 0000 0004."
    )

    assert scrub_personal_data(message) == (
        "Hi, I'm [email], phone [phone]. Since v2.13.0 on 2024-05-01 "
        "order #4821 for $1,299.99 failed on card [card]."
    )


# -- CSV -----------------------------------------------------------------------------------------


def csv_text(*rows: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


TICKETS_CSV = csv_text(
    ["id", "subject", "messages", "resolution", "locale"],
    [
        "T-100",
        "Can't sign in after update",
        "Customer: Since 2.13.0 I get error 401\n"
        "Agent: Which browser do you use?\n"
        "Customer: Chrome. Call me on +44 20 7946 0958",
        "Clear the SSO session under Settings > Security; sign-in works again.",
        "en",
    ],
    [
        "",
        "Refund for duplicate charge",
        json.dumps(
            [
                {"role": "customer", "body": "I was charged twice on 4111 1111 1111 1111"},
                {"author": "Jane Smith", "text": "Looking into it"},
                {"from": "agent", "body": "Refund sent."},
            ]
        ),
        "Duplicate charges are refunded within 5 days.",
        "pt_BR",
    ],
    ["T-102", "Still broken", "Customer: nothing works", "", "en"],
)


def test_resolved_csv_tickets_become_problem_and_resolution_articles():
    reading = read_tickets(TICKETS_CSV.encode(), "tickets.csv")

    assert reading.failures == []
    sign_in, _refund = reading.drafts
    assert sign_in.external_id == "ticket-T-100"
    assert sign_in.title == "Can't sign in after update"
    assert sign_in.locale == "en"
    assert sign_in.content == (
        "## Problem\n"
        "Customer: Since 2.13.0 I get error 401\n"
        "Agent: Which browser do you use?\n"
        "Customer: Chrome. Call me on [phone]\n"
        "\n"
        "## Resolution\n"
        "Clear the SSO session under Settings > Security; sign-in works again."
    )


def test_csv_messages_may_be_a_json_array_and_rows_without_id_use_their_row_number():
    refund = read_tickets(TICKETS_CSV.encode(), "tickets.csv").drafts[1]

    assert refund.external_id == "ticket-3"  # the spreadsheet row, header being row 1
    assert refund.locale == "pt-br"
    # Roles are kept, names of people are not.
    assert refund.content == (
        "## Problem\n"
        "Customer: I was charged twice on [card]\n"
        "Looking into it\n"
        "Agent: Refund sent.\n"
        "\n"
        "## Resolution\n"
        "Duplicate charges are refunded within 5 days."
    )


def test_unresolved_tickets_are_left_out_silently():
    reading = read_tickets(TICKETS_CSV.encode(), "tickets.csv")

    assert "ticket-T-102" not in [draft.external_id for draft in reading.drafts]
    assert reading.failures == []


def test_personal_data_is_scrubbed_from_subject_and_resolution_too():
    data = (
        "subject,messages,resolution\n"
        "Call back +1 555 123 4567,Please help,Emailed bob@acme.example the fix for v1.2.3\n"
    )

    draft = read_tickets(data.encode(), "export.csv").drafts[0]

    assert draft.title == "Call back [phone]"
    assert draft.content.endswith("## Resolution\nEmailed [email] the fix for v1.2.3")


def test_a_csv_without_the_required_columns_is_refused_by_name():
    with pytest.raises(SourceInputError, match="missing the columns messages, resolution"):
        read_tickets(b"Subject,Body\nHello,World\n", "tickets.csv")


def test_a_bad_csv_row_is_named_and_the_others_are_read():
    data = (
        "subject,messages,resolution\n"
        ",Customer: where is the subject?,Answered anyway\n"
        "Export fails,Customer: CSV export times out,Use the async export.\n"
    )

    reading = read_tickets(data.encode(), "tickets.csv")

    assert [draft.title for draft in reading.drafts] == ["Export fails"]
    assert [(f.external_id, f.reason) for f in reading.failures] == [
        ("ticket-2", "Row 2 has no subject; it was skipped.")
    ]


def test_spreadsheet_csv_with_semicolons_and_windows_encoding_is_read():
    data = "Subject;Messages;Resolution\nFacture erronée;Client: montant faux;Avoir émis.\n"

    draft = read_tickets(data.encode("cp1252"), "tickets.csv").drafts[0]

    assert draft.title == "Facture erronée"
    assert draft.content.endswith("## Resolution\nAvoir émis.")


# -- JSON ----------------------------------------------------------------------------------------


def test_json_tickets_with_message_objects_are_read():
    tickets = {
        "tickets": [
            {
                "id": 5012,
                "subject": "Webhook retries",
                "messages": [
                    {
                        "author": "end-user",
                        "body": "Webhooks fire twice. Reach me at ops@acme.example",
                    },
                    {"role": "agent", "text": "Do you answer with a 2xx within 10 seconds?"},
                    "Customer: We answer after 30 seconds.",
                ],
                "resolution": "Answer within 10 seconds; slower answers are retried.",
                "locale": "de",
            },
            {"subject": "No answer yet", "messages": ["Hello?"], "resolution": ""},
        ]
    }

    reading = read_tickets(json.dumps(tickets).encode(), "tickets.json")

    assert reading.failures == []
    [draft] = reading.drafts
    assert (draft.external_id, draft.title, draft.locale) == (
        "ticket-5012",
        "Webhook retries",
        "de",
    )
    assert draft.content == (
        "## Problem\n"
        "Customer: Webhooks fire twice. Reach me at [email]\n"
        "Agent: Do you answer with a 2xx within 10 seconds?\n"
        "Customer: We answer after 30 seconds.\n"
        "\n"
        "## Resolution\n"
        "Answer within 10 seconds; slower answers are retried."
    )


def test_a_json_list_without_ids_uses_positions_and_names_bad_tickets():
    tickets = [
        {"subject": "Invoices", "messages": "Where are my invoices?", "resolution": "Billing tab."},
        "not a ticket",
        {"subject": "Odd", "messages": [["nested"]], "resolution": "x"},
        {"subject": 42, "messages": [], "resolution": "x"},
    ]

    reading = read_tickets(json.dumps(tickets).encode(), "tickets.json")

    assert [draft.external_id for draft in reading.drafts] == ["ticket-1"]
    assert [(f.external_id, f.reason) for f in reading.failures] == [
        ("ticket-2", "Ticket 2 is not an object; it was skipped."),
        ("ticket-3", "Ticket 3 has message 1 that is neither text nor an object; it was skipped."),
        ("ticket-4", 'Ticket 4 has a "subject" that is not text; it was skipped.'),
    ]


def test_a_repeated_ticket_id_is_read_once():
    tickets = [
        {"id": "9", "subject": "First", "messages": [], "resolution": "one"},
        {"id": 9, "subject": "Second", "messages": [], "resolution": "two"},
    ]

    reading = read_tickets(json.dumps(tickets).encode(), "tickets.json")

    assert [draft.title for draft in reading.drafts] == ["First"]
    assert "repeats the id 9" in reading.failures[0].reason


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'[{"subject": "x"', "not valid JSON"),
        (b'{"items": []}', 'list of tickets or an object with a "tickets" list'),
    ],
)
def test_unreadable_json_is_refused(data, message):
    with pytest.raises(SourceInputError, match=message):
        read_tickets(data, "tickets.json")


def test_the_format_is_sniffed_when_the_name_does_not_say():
    data = json.dumps([{"subject": "S", "messages": ["m"], "resolution": "r"}]).encode()

    assert read_tickets(data, "export").drafts[0].title == "S"
