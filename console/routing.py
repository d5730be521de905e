from django.urls import path

from console.consumers import WorkspaceEventsConsumer, WorkspaceLiveHtmlConsumer

websocket_urlpatterns = [
    path("ws/w/<slug:workspace_slug>/events/", WorkspaceEventsConsumer.as_asgi()),
    path("ws/w/<slug:workspace_slug>/live/", WorkspaceLiveHtmlConsumer.as_asgi()),
]
