import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from console.models import Workspace
from knowledge.selectors import knowledge_search


class Command(BaseCommand):
    help = "Search a workspace's knowledge base (hybrid retrieval) and print the ranked results."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("query")
        parser.add_argument("--workspace", required=True, help="Workspace slug")
        parser.add_argument("--k", type=int, default=5, help="How many articles (default 5)")
        parser.add_argument("--language", help="The query's language (default: detected)")
        parser.add_argument("--json", action="store_true", help="Print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with the slug {options['workspace']!r}.")
        if not 1 <= options["k"] <= 100:
            raise CommandError("--k must be between 1 and 100.")
        result = knowledge_search(
            workspace_id=workspace.pk,
            query=options["query"],
            k=options["k"],
            language=options["language"],
        )
        if options["json"]:
            results = [
                {
                    "external_id": hit.external_id,
                    "title": hit.title,
                    "score": round(hit.score, 6),
                    "heading_path": hit.heading_path,
                    "url": hit.url,
                    "found_by": sorted(hit.found_by),
                    "text": hit.text,
                }
                for hit in result.hits
            ]
            payload = {"query": result.query, "language": result.language, "results": results}
            self.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2))
            return
        if not result.hits:
            self.stdout.write("No results.")
        for rank, hit in enumerate(result.hits, start=1):
            where = f" > {hit.heading_path}" if hit.heading_path else ""
            self.stdout.write(
                f"{rank:>2}. {hit.score:.4f}  {hit.title}{where}  [{hit.external_id}]"
                f"  ({', '.join(sorted(hit.found_by))})"
            )
