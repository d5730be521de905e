from typing import Any

from django.db import migrations

# The defaults as they were when approval policies came in; frozen here on purpose, so that a
# later change of routing.models.DEFAULT_APPROVERS does not rewrite history.
DEFAULT_APPROVERS = {
    "read": ["admin", "agent:2", "agent:1"],
    "write": ["admin", "agent:2"],
    "destructive": ["admin"],
}


def create_defaults(apps: Any, schema_editor: Any) -> None:
    """Workspaces made before AI actions existed get the approval policies new ones get."""
    workspace_model = apps.get_model("console", "Workspace")
    policy_model = apps.get_model("routing", "ActionApprovalPolicy")
    for workspace in workspace_model.objects.all():
        for risk, approvers in DEFAULT_APPROVERS.items():
            policy_model.objects.get_or_create(
                workspace=workspace, risk=risk, defaults={"approvers": approvers}
            )


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0001_initial"),
        ("routing", "0005_actions"),
    ]
    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
