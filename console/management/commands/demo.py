from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from console.services import demo_workspace_setup
from knowledge.models import Source
from knowledge.services import demo_help_center_sync
from routing.actions import action_templates_install
from routing.question_set import questions_import

# The demo help center's evaluation cases double as the demo's test questions.
DEMO_CASES = Path(__file__).resolve().parents[3] / "knowledge" / "demo_content" / "cases.jsonl"


class Command(BaseCommand):
    help = (
        "Create the demo workspace with an admin and two agents, load its help center, its test "
        "questions and the built-in AI actions (idempotent), then print the logins."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        workspace, logins = demo_workspace_setup()
        self.stdout.write(f"Demo workspace “{workspace.name}” ready at /w/{workspace.slug}/")

        def progress(source: Source) -> None:
            if source.total:
                self.stdout.write(f"  help center: {source.processed}/{source.total}", ending="\r")

        source = demo_help_center_sync(workspace=workspace, on_progress=progress)
        self.stdout.write("")
        self.stdout.write(
            f"Help center: {source.articles.count()} articles ({source.get_status_display()})."
        )
        imported = questions_import(workspace=workspace, text=DEMO_CASES.read_text(), by=None)
        self.stdout.write(
            f"Test questions: {imported.created} added, {imported.updated} brought up to date."
        )
        # Installed switched off, with placeholder webhooks: the Actions page shows what exists.
        action_templates_install(workspace=workspace)
        self.stdout.write("Logins:")
        for login in logins:
            self.stdout.write(f"  {login.role:<16} {login.email:<24} password: {login.password}")
