import pytest

from routing.confidence import named_terms, retrieval_confidence


@pytest.mark.parametrize(
    ("message", "language", "expected"),
    [
        ("Is Amazon EBS encryption available on M3 instances?", "en", ["amazon", "ebs", "m3"]),
        ("Max storage for MariaDB on db.t2.medium?", "en", ["mariadb", "db.t2.medium"]),
        (
            "Does CloudTrail log runtime_InvokeEndpoint?",
            "en",
            ["cloudtrail", "runtime_invokeendpoint"],
        ),
        ("how do i export my board to csv", "en", []),
        ("Hi. Can I connect Slack? Thanks", "en", ["slack"]),
        ("I need help. My invoice is wrong", "en", []),
        ("We removed 2 people but still pay for 12 seats", "en", []),
        ("Como integrar com o Slack?", "pt", ["slack"]),
        # German capitalises every noun: only identifier-like words count there.
        ("Wie kann ich meine Rechnung als PDF herunterladen?", "de", ["pdf"]),
    ],
)
def test_named_terms_are_the_words_a_question_uses_as_names(message, language, expected):
    assert named_terms(message, language) == expected


def passage(text: str, similarity: float = 0.7, title: str = "Export a board") -> dict:
    return {"title": title, "heading_path": "", "text": text, "similarity": similarity}


def test_a_close_passage_that_mentions_what_is_named_is_trusted():
    confidence = retrieval_confidence(
        message="Can I export a board to CSV?",
        language="en",
        passages=[passage("Open the board menu and choose Export, then CSV.", 0.71)],
        coverage={1: 0.8},
    )

    assert confidence.score == pytest.approx(0.71)
    assert confidence.missing_terms == []


def test_a_close_passage_that_never_mentions_the_named_product_is_not_trusted():
    confidence = retrieval_confidence(
        message="How do I download an entire S3 bucket?",
        language="en",
        passages=[passage("Download a snapshot of your database from the console.", 0.64)],
        coverage={1: 0.67},
    )

    assert confidence.score == 0.0
    assert confidence.similarity == pytest.approx(0.64)
    assert confidence.missing_terms == ["s3"]


def test_a_passage_sharing_too_few_of_the_weighted_words_is_not_trusted():
    confidence = retrieval_confidence(
        message="can you negotiate a custom contract with a discount",
        language="en",
        passages=[passage("Contact sales for a quote.", 0.58)],
        coverage={1: 0.12},
    )

    assert confidence.score == 0.0
    assert confidence.word_coverage == pytest.approx(0.12)


def test_names_are_matched_without_case_or_accents_and_as_whole_words():
    found = retrieval_confidence(
        message="Does the Méto plan include SSO?",
        language="en",
        passages=[passage("The METO plan includes sso for every seat.", 0.6)],
        coverage={1: 0.5},
    )
    partial = retrieval_confidence(
        message="Does it work with Jira?",
        language="en",
        passages=[passage("Our jiraffe integration syncs issues.", 0.6)],
        coverage={1: 0.5},
    )

    assert found.score == pytest.approx(0.6)
    assert partial.missing_terms == ["jira"]


def test_no_passages_means_no_confidence():
    confidence = retrieval_confidence(message="Hello?", language="en", passages=[], coverage={})
    assert confidence.score == 0.0
