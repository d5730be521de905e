from typing import Any

from django.db import migrations


def create_defaults(apps: Any, schema_editor: Any) -> None:
    """Workspaces made before flows existed get what new ones get: queues and a published flow."""
    from routing.flow_settings import FlowSettings

    workspace_model = apps.get_model("console", "Workspace")
    flow_model = apps.get_model("routing", "SupportFlow")
    version_model = apps.get_model("routing", "FlowVersion")
    queue_model = apps.get_model("routing", "Queue")
    for workspace in workspace_model.objects.all():
        for name, tier in (("Tier 1", 1), ("Tier 2", 2)):
            queue_model.objects.get_or_create(
                workspace=workspace, name=name, defaults={"tier": tier}
            )
        if flow_model.objects.filter(workspace=workspace).exists():
            continue
        settings = FlowSettings().to_json()
        flow = flow_model.objects.create(
            workspace=workspace, name="Default flow", settings=settings
        )
        queues = list(
            queue_model.objects.filter(workspace=workspace)
            .order_by("tier", "name")
            .values("name", "tier", "sla_wait_minutes")
        )
        version = version_model.objects.create(
            flow=flow,
            number=1,
            snapshot={"settings": settings, "rules": [], "queues": queues},
            note="Default flow",
        )
        flow.published_version = version
        flow.save(update_fields=["published_version"])


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0001_initial"),
        ("routing", "0002_queues_and_rules"),
    ]
    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
