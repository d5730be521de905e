import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from console.models import Workspace
from knowledge.evaluation import CasesError, percentile, read_cases
from knowledge.selectors import knowledge_search


class Command(BaseCommand):
    help = (
        "Measure retrieval on evaluation cases (the JSONL case format): recall@1 and recall@k of "
        "the gold article among the distinct articles found, and search latency."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("cases", help="A JSONL file of cases; answer cases with articles count")
        parser.add_argument("--workspace", required=True, help="Workspace slug")
        parser.add_argument("--k", type=int, default=5)
        parser.add_argument("--misses", action="store_true", help="List the cases missed at 1")
        parser.add_argument("--json", action="store_true", help="Print the figures as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with the slug {options['workspace']!r}.")
        try:
            cases = [
                case
                for case in read_cases(Path(options["cases"]))
                if case["expect"].get("outcome") == "answer" and case["expect"].get("articles")
            ]
        except CasesError as error:
            raise CommandError(str(error)) from None
        if not cases:
            raise CommandError("No answer cases with gold articles in the file.")
        k = options["k"]
        knowledge_search(workspace_id=workspace.pk, query="warm up", k=k)  # load the model first
        hits_at_1 = hits_at_k = 0
        latencies = []
        misses = []
        for case in cases:
            query = " ".join(case["turns"])
            result = knowledge_search(workspace_id=workspace.pk, query=query, k=k)
            latencies.append(result.took_ms)
            gold = set(case["expect"]["articles"])
            found = result.articles[:k]
            hits_at_1 += bool(found[:1] and found[0] in gold)
            hits_at_k += bool(gold & set(found))
            if not (found[:1] and found[0] in gold):
                misses.append((case["id"], query, sorted(gold), found))
        latencies.sort()
        figures = {
            "cases": len(cases),
            "recall_at_1": round(hits_at_1 / len(cases), 3),
            f"recall_at_{k}": round(hits_at_k / len(cases), 3),
            "latency_ms_p50": round(percentile(latencies, 0.5), 1),
            "latency_ms_p95": round(percentile(latencies, 0.95), 1),
        }
        if options["json"]:
            self.stdout.write(json.dumps(figures))
        else:
            for name, value in figures.items():
                self.stdout.write(f"{name:>16}: {value}")
        if options["misses"]:
            for case_id, query, expected, retrieved in misses:
                self.stdout.write(
                    f"\n{case_id}: {query}\n  gold:  {expected}\n  found: {retrieved}"
                )
