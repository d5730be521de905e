import json
import statistics
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from console.models import Workspace
from knowledge.evaluation import CasesError, percentile, read_cases
from routing.models import DecisionSource
from routing.pipeline import MessageDecision
from routing.question_set import case_run
from routing.selectors import published_version
from routing.services import decision_trace_record


class Command(BaseCommand):
    help = (
        "Run evaluation cases (JSONL, see ../shared/eval/README.md) through the workspace's "
        "published flow, each as a fresh conversation, and report answers, handoffs, languages "
        "and latency."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("cases", help="A JSONL file of cases")
        parser.add_argument("--workspace", required=True, help="Workspace slug")
        parser.add_argument("--json", dest="json_out", help="Write the records and summary here")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with the slug {options['workspace']!r}.")
        version = published_version(workspace=workspace)
        if version is None:
            raise CommandError(f"{workspace.slug} has no published flow.")
        try:
            cases = read_cases(Path(options["cases"]))
        except CasesError as error:
            raise CommandError(str(error)) from None
        records = []
        for number, case in enumerate(cases, start=1):
            records.append(_run_case(version, workspace.pk, case))
            self.stdout.write(f"\r  {number}/{len(cases)} cases", ending="")
        self.stdout.write("")
        summary = _summary(cases, records)
        for name, value in summary.items():
            self.stdout.write(f"{name:>34}: {value}")
        if options["json_out"]:
            Path(options["json_out"]).write_text(
                json.dumps({"cases": records, "summary": summary}, ensure_ascii=False, indent=2)
            )


def _run_case(version: Any, workspace_id: int, case: dict[str, Any]) -> dict[str, Any]:
    def record(turn: str, decision: MessageDecision) -> None:
        # Kept like a conversation's decisions: `GET /api/v1/routing/traces/` shows why.
        decision_trace_record(
            workspace=version.flow.workspace,
            flow=version.flow,
            version=version,
            draft_revision=None,
            source=DecisionSource.EVALUATION,
            message=turn,
            decision=decision,
        )

    run = case_run(
        version=version,
        workspace_id=workspace_id,
        turns=case["turns"],
        customer=case.get("customer") or {},
        on_decision=record,
    )
    return {
        "id": case.get("id"),
        "outcome": run.outcome,
        "cited": run.cited,
        "language": run.language,
        "reason": run.reason or None,
        "priority": run.priority or None,
        "reply": run.reply,
        "latency_ms": round(statistics.mean(run.latencies_ms), 1),
        "latencies_ms": run.latencies_ms,
    }


def _summary(cases: list[dict[str, Any]], records: list[dict[str, Any]]) -> dict[str, Any]:
    answer = [
        (c, r) for c, r in zip(cases, records, strict=True) if c["expect"]["outcome"] == "answer"
    ]
    handoff = [
        (c, r) for c, r in zip(cases, records, strict=True) if c["expect"]["outcome"] == "handoff"
    ]
    with_language = [
        (c, r) for c, r in zip(cases, records, strict=True) if c["expect"].get("language")
    ]
    latencies = sorted(value for record in records for value in record["latencies_ms"])

    def share(hits: int, total: int) -> float | None:
        return round(hits / total, 3) if total else None

    return {
        "cases": len(cases),
        "answer_cases": len(answer),
        "answered_with_gold_cited_first": share(
            sum(
                1
                for c, r in answer
                if r["outcome"] == "answer"
                and r["cited"][:1]
                and r["cited"][0] in c["expect"].get("articles", [])
            ),
            len(answer),
        ),
        "answered_at_all": share(
            sum(1 for _, r in answer if r["outcome"] == "answer"), len(answer)
        ),
        "handoff_cases": len(handoff),
        "handed_off": share(sum(1 for _, r in handoff if r["outcome"] == "handoff"), len(handoff)),
        "answered_instead_hallucination_risk": share(
            sum(1 for _, r in handoff if r["outcome"] == "answer"), len(handoff)
        ),
        "reply_in_expected_language": share(
            sum(1 for c, r in with_language if r["language"] == c["expect"]["language"]),
            len(with_language),
        ),
        "latency_ms_p50": round(percentile(latencies, 0.5), 1) if latencies else None,
        "latency_ms_p95": round(percentile(latencies, 0.95), 1) if latencies else None,
    }
