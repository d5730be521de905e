import json
import re
import time
from argparse import ArgumentParser
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from knowledge.evaluation import percentile
from routing.components.sentiment_scorer import SUGGESTED_ESCALATION_THRESHOLD, SentimentScorer

SWEEP = (-0.3, -0.4, -0.5, -0.6, -0.7)
DIALOGS_FILE = Path("tweetsumm") / "tweetsumm_dialogs.jsonl"
# Labelled turns sometimes carry a "Customer:" prefix or several turns joined by tabs.
_SPEAKER_PREFIX = re.compile(r"^\s*customer:\s*", re.IGNORECASE)
# Enough of a turn to recognise it; the labelled copies differ from the dialog text at the end.
_MATCH_PREFIX = 40


@dataclass
class ScoredDialog:
    negative: bool
    turns: list[tuple[float, bool]] = field(default_factory=list)  # (score, wants_human)
    negative_turns: list[bool] = field(default_factory=list)


class Command(BaseCommand):
    help = (
        "Measure frustration escalation on the TweetSumm customer-care dialogs: each dialog's "
        "customer turns are scored one by one and the dialog escalates at the first turn at or "
        "below the threshold or asking for a human. Reports recall on the dialogs labelled "
        "negative, false escalations on the others, turn-level figures, latency and a sweep."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--threshold",
            type=float,
            default=SUGGESTED_ESCALATION_THRESHOLD,
            help="Escalate at or below this score (default %(default)s)",
        )
        parser.add_argument(
            "--data",
            type=Path,
            default=None,
            help="The evaluation folder holding tweetsumm/ (default: ../shared/eval)",
        )
        parser.add_argument(
            "--split", choices=["train", "valid", "test"], help="Only the dialogs of this split"
        )
        parser.add_argument("--json", action="store_true", help="Print the figures as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        data_dir: Path = options["data"] or settings.BASE_DIR.parent / "shared" / "eval"
        dialogs = self._dialogs(data_dir / DIALOGS_FILE, options["split"])
        if not dialogs:
            raise CommandError("No dialogs with customer turns in the file.")
        scorer = SentimentScorer()
        scorer.warm_up()
        latencies: list[float] = []
        scored: list[ScoredDialog] = []
        for dialog in dialogs:
            result = ScoredDialog(negative=bool(dialog.get("customer_negative")))
            labelled = [_normalise(text) for text in _labelled_turns(dialog)]
            history: list[str] = []
            for text in _customer_turns(dialog):
                started = time.perf_counter()
                output = scorer.run(text=text, language="en", history=history)
                latencies.append((time.perf_counter() - started) * 1000)
                result.turns.append((output["score"], output["wants_human"]))
                result.negative_turns.append(_normalise(text) in labelled)
                history.append(text)
            scored.append(result)

        threshold = options["threshold"]
        latencies.sort()
        figures: dict[str, Any] = {
            "dialogs": len(scored),
            "negative_dialogs": sum(dialog.negative for dialog in scored),
            "customer_turns": len(latencies),
            "threshold": threshold,
            **_escalation_figures(scored, threshold),
            "latency_ms_p50": round(percentile(latencies, 0.5), 3),
            "latency_ms_p95": round(percentile(latencies, 0.95), 3),
            "sweep": [
                {"threshold": value, **_escalation_figures(scored, value)} for value in SWEEP
            ],
        }
        if options["json"]:
            self.stdout.write(json.dumps(figures))
            return
        for name, value in figures.items():
            if name != "sweep":
                self.stdout.write(f"{name:>28}: {value}")
        self.stdout.write("\nthreshold  recall  false_esc  turn_prec  turn_recall")
        for row in figures["sweep"]:
            self.stdout.write(
                f"{row['threshold']:>9}  {row['escalation_recall']:>6}  "
                f"{row['false_escalation_rate']:>9}  {row['turn_precision']:>9}  "
                f"{row['turn_recall']:>11}"
            )

    def _dialogs(self, path: Path, split: str | None) -> list[dict[str, Any]]:
        if not path.exists():
            raise CommandError(f"{path} does not exist.")
        dialogs = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                dialog = json.loads(line)
            except ValueError as error:
                raise CommandError(f"{path}:{number}: not JSON ({error}).") from None
            if split and dialog.get("split") != split:
                continue
            if _customer_turns(dialog):
                dialogs.append(dialog)
        return dialogs


def _customer_turns(dialog: dict[str, Any]) -> list[str]:
    return [turn["text"] for turn in dialog.get("turns", []) if turn.get("speaker") == "customer"]


def _labelled_turns(dialog: dict[str, Any]) -> list[str]:
    return [
        _SPEAKER_PREFIX.sub("", part)
        for text in dialog.get("negative_customer_turns", [])
        for part in text.split("\t")
        if part.strip()
    ]


def _normalise(text: str) -> str:
    return " ".join(text.split())[:_MATCH_PREFIX].lower()


def _escalation_figures(dialogs: list[ScoredDialog], threshold: float) -> dict[str, Any]:
    escalated_negative = escalated_other = on_time = 0
    flagged_turns = flagged_negative_turns = negative_turns = 0
    for dialog in dialogs:
        flags = [score <= threshold or wants_human for score, wants_human in dialog.turns]
        first = flags.index(True) if True in flags else None
        if dialog.negative:
            escalated_negative += first is not None
            labelled_first = (
                dialog.negative_turns.index(True) if True in dialog.negative_turns else None
            )
            # Escalating no later than the first turn a person marked negative is what a customer
            # would feel as "they noticed in time".
            on_time += first is not None and (labelled_first is None or first <= labelled_first)
        else:
            escalated_other += first is not None
        flagged_turns += sum(flags)
        negative_turns += sum(dialog.negative_turns)
        flagged_negative_turns += sum(
            flag and negative for flag, negative in zip(flags, dialog.negative_turns, strict=True)
        )
    negative_dialogs = sum(dialog.negative for dialog in dialogs)
    other_dialogs = len(dialogs) - negative_dialogs
    return {
        "escalation_recall": _share(escalated_negative, negative_dialogs),
        "false_escalation_rate": _share(escalated_other, other_dialogs),
        "escalated_on_time": _share(on_time, negative_dialogs),
        "turn_precision": _share(flagged_negative_turns, flagged_turns),
        "turn_recall": _share(flagged_negative_turns, negative_turns),
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None
