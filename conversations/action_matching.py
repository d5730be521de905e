"""Which AI action a customer message asks for, without a model: the offline flow's proposal.

The message is compared with every example phrasing of the workspace's usable actions (enabled,
policy not "never") by their content words. A phrasing matches when (almost) all its content
words appear in the message; a typo still counts ("refnud" for "refund"). The score is

    0.8 * (share of the phrasing's content words found in the message)
  + 0.2 * (share of the message's content words found in the phrasing)

so a message that says exactly the phrasing scores 1, and one that contains the phrasing among
other words still passes. MATCH_THRESHOLD (0.7) means every content word of the phrasing must be
there, unless the message is little more than the phrasing. Generic words ("I want", "please",
"can you") are ignored: they are in every request and would match any action.

A proposal is only a proposal: conversations.action_requests applies the action's policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from console.models import Workspace
from routing.models import Action, ActionPolicy

MATCH_THRESHOLD = 0.7
PHRASING_WEIGHT = 0.8
# Two words this alike are one word mistyped ("refnud", "subscribtion").
TYPO_SIMILARITY = 0.85
TYPO_MIN_LENGTH = 5

WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Words every request has; matching on them would tie any message to any action.
_STOPWORD_TEXT = """
    a about after again all am an and any are as at be been but by can could did do does doing
    for from get got had has have hello hey hi how i im in is it its just let like me my
    myself need no not of on or our please so some than that the their them then there these
    they this to too up us want wanted was we were what when where which who why will with
    would you your yours
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True)
class ActionMatch:
    action: Action
    score: float
    phrasing: str  # the example phrasing that matched best, for the trace and the agent


def action_match(*, workspace: Workspace, text: str) -> tuple[Action, float] | None:
    """The usable action whose example phrasing the message matches best, and the score; None
    when no phrasing scores MATCH_THRESHOLD. Ties go to the action listed first (by name)."""
    match = action_match_detail(workspace=workspace, text=text)
    return (match.action, match.score) if match is not None else None


def action_match_detail(*, workspace: Workspace, text: str) -> ActionMatch | None:
    message_words = content_words(text)
    if not message_words:
        return None
    best: ActionMatch | None = None
    for action in _matchable_actions(workspace):
        for phrasing in action.example_phrasings:
            score = phrasing_score(message_words, content_words(phrasing))
            if score >= MATCH_THRESHOLD and (best is None or score > best.score):
                best = ActionMatch(action=action, score=round(score, 3), phrasing=phrasing)
    return best


def _matchable_actions(workspace: Workspace) -> list[Action]:
    return list(
        Action.objects.filter(workspace=workspace, enabled=True)
        .exclude(policy=ActionPolicy.NEVER)
        .order_by("name", "id")
    )


def content_words(text: str) -> list[str]:
    """The words that carry meaning, lower-cased, a plural "s" dropped, in order, no repeats."""
    words = (_singular(word) for word in WORD.findall(text.casefold()))
    return list(dict.fromkeys(word for word in words if word not in STOPWORDS and len(word) > 1))


def _singular(word: str) -> str:
    # Enough for "refunds"/"invoices"/"seats"; not a stemmer: "address" keeps its s.
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def phrasing_score(message_words: list[str], phrasing_words: list[str]) -> float:
    if not message_words or not phrasing_words:
        return 0.0
    found = [word for word in phrasing_words if _appears(word, message_words)]
    used = [word for word in message_words if _appears(word, phrasing_words)]
    phrasing_share = len(found) / len(phrasing_words)
    message_share = len(used) / len(message_words)
    return PHRASING_WEIGHT * phrasing_share + (1 - PHRASING_WEIGHT) * message_share


def _appears(word: str, words: list[str]) -> bool:
    if word in words:
        return True
    if len(word) < TYPO_MIN_LENGTH:
        return False
    return any(
        len(other) >= TYPO_MIN_LENGTH
        and SequenceMatcher(None, word, other).ratio() >= TYPO_SIMILARITY
        for other in words
    )
