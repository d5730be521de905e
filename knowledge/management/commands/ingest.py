import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from console.services import workspace_get_or_create
from knowledge.models import Source, SourceKind, SourceStatus
from knowledge.services import source_create, source_sync

FILE_KINDS = {".yaml": SourceKind.OPENAPI, ".yml": SourceKind.OPENAPI, ".csv": SourceKind.TICKETS}


def guess_kind(path: Path) -> SourceKind:
    """A folder, a zip or documents are read as files; JSON says what it is by its keys."""
    if path.is_dir() or path.suffix.lower() not in {".json", ".yaml", ".yml", ".csv"}:
        return SourceKind.FOLDER
    if path.suffix.lower() in FILE_KINDS:
        return FILE_KINDS[path.suffix.lower()]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as error:
        raise CommandError(f"{path} is not readable JSON: {error}") from None
    if isinstance(data, dict) and "openapi" in data:
        return SourceKind.OPENAPI
    if isinstance(data, dict) and "articles" in data:
        return SourceKind.ZENDESK
    return SourceKind.TICKETS


class Command(BaseCommand):
    help = (
        "Ingest a folder, file or zip (or a Zendesk export, OpenAPI spec or tickets file) into a "
        "workspace's knowledge base. Creates the workspace if needed; a second run changes "
        "nothing that did not change."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", help="A folder, a file or a zip")
        parser.add_argument("--workspace", required=True, help="Workspace slug")
        parser.add_argument("--source", help="Source name (default: the file or folder name)")
        parser.add_argument(
            "--kind",
            choices=[SourceKind.FOLDER, SourceKind.ZENDESK, SourceKind.OPENAPI, SourceKind.TICKETS],
            help="What the path holds (default: guessed)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"]).expanduser().resolve()
        if not path.exists():
            raise CommandError(f"{path} does not exist.")
        workspace, created = workspace_get_or_create(slug=slugify(options["workspace"]))
        if created:
            self.stdout.write(f"Created workspace {workspace.slug}.")
        kind = SourceKind(options["kind"]) if options["kind"] else guess_kind(path)
        name = options["source"] or path.name
        source = Source.objects.filter(workspace=workspace, name=name).first()
        if source is None:
            try:
                source = source_create(
                    workspace=workspace, kind=kind, name=name, settings_={"path": str(path)}
                )
            except ValidationError as error:
                raise CommandError("; ".join(error.messages)) from None
        elif source.kind != kind or source.settings.get("path") != str(path):
            raise CommandError(
                f"Source {name!r} of {workspace.slug} holds {source.settings.get('path')} "
                f"({source.kind}); pick another --source name."
            )

        def progress(current: Source) -> None:
            if current.total:
                self.stdout.write(f"  {current.processed}/{current.total} articles", ending="\r")

        before = dict(source.articles.values_list("external_id", "version"))
        source = source_sync(source=source, on_progress=progress)
        self.stdout.write("")
        for failure in source.file_errors:
            self.stderr.write(f"  failed: {failure['external_id']}: {failure['reason']}")
        if source.status == SourceStatus.FAILED:
            raise CommandError(f"Sync of {name!r} failed: {source.last_error}")
        after = dict(source.articles.values_list("external_id", "version"))
        added = len(after.keys() - before.keys())
        changed = sum(1 for key in after.keys() & before.keys() if after[key] != before[key])
        removed = len(before.keys() - after.keys())
        self.stdout.write(
            f"Source {name!r} in {workspace.slug}: {len(after)} articles "
            f"({added} new, {changed} changed, {removed} removed, "
            f"{len(after) - added - changed} unchanged), {len(source.file_errors)} failed files."
        )
