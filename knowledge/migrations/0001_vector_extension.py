from django.db import migrations
from pgvector.django import VectorExtension


class Migration(migrations.Migration):
    """pgvector must exist before any model with a VectorField is migrated."""

    initial = True
    dependencies: list[tuple[str, str]] = []
    operations = [VectorExtension()]
