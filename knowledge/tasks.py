from celery import shared_task

from knowledge.models import Source
from knowledge.services import source_sync


@shared_task(ignore_result=True)
def source_sync_task(source_id: int) -> None:
    source = Source.objects.filter(pk=source_id).first()
    if source is not None:  # deleted while queued: nothing to do
        source_sync(source=source)
