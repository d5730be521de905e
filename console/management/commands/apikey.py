from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from console.models import ApiKey, Workspace
from console.selectors import api_keys_of_workspace
from console.services import api_key_create, api_key_revoke


class Command(BaseCommand):
    help = "Create, list or revoke workspace API keys."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a key and print it (shown only once).")
        create.add_argument("--workspace", required=True, help="Workspace slug")
        create.add_argument("--name", default="Command-line key", help="What the key is for")
        listing = actions.add_parser("list", help="List the workspace's keys.")
        listing.add_argument("--workspace", required=True, help="Workspace slug")
        revoke = actions.add_parser("revoke", help="Revoke a key by its prefix.")
        revoke.add_argument("--workspace", required=True, help="Workspace slug")
        revoke.add_argument("prefix", help="The key's first characters, as `list` shows them")

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with the slug {options['workspace']!r}.")
        action = options["action"]
        if action == "create":
            try:
                issued = api_key_create(workspace=workspace, name=options["name"])
            except ValidationError as error:
                raise CommandError("; ".join(error.messages)) from None
            # The key alone on stdout, so scripts can capture it; the advice goes to stderr.
            self.stdout.write(issued.raw_key)
            self.stderr.write(
                f"Key “{issued.api_key.name}” for {workspace.slug}. "
                "Store it now: it is not shown again."
            )
        elif action == "list":
            for key in api_keys_of_workspace(workspace=workspace):
                state = "active" if key.is_active else f"revoked {key.revoked_at:%Y-%m-%d}"
                self.stdout.write(f"{key.prefix}…  {key.name}  ({state})")
        else:
            matches = list(
                ApiKey.objects.filter(workspace=workspace, prefix__startswith=options["prefix"])
            )
            if len(matches) != 1:
                raise CommandError(
                    f"{len(matches)} keys of {workspace.slug} start with {options['prefix']!r}; "
                    "give a prefix that names exactly one."
                )
            api_key_revoke(api_key=matches[0])
            self.stdout.write(f"Revoked {matches[0]}.")
