from typing import Any

from django.core.management.base import BaseCommand

from console.services import demo_workspace_setup


class Command(BaseCommand):
    help = (
        "Create the demo workspace with an admin and two agents (idempotent) and print the logins."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        workspace, logins = demo_workspace_setup()
        self.stdout.write(f"Demo workspace “{workspace.name}” ready at /w/{workspace.slug}/")
        self.stdout.write("Logins:")
        for login in logins:
            self.stdout.write(f"  {login.role:<16} {login.email:<24} password: {login.password}")
