from typing import Any

from django.core.management.base import BaseCommand

from console.services import demo_workspace_setup
from knowledge.models import Source
from knowledge.services import demo_help_center_sync


class Command(BaseCommand):
    help = (
        "Create the demo workspace with an admin and two agents, and load its help center "
        "(idempotent), then print the logins."
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
        self.stdout.write("Logins:")
        for login in logins:
            self.stdout.write(f"  {login.role:<16} {login.email:<24} password: {login.password}")
