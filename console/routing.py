from django.urls import path

from console.consumers import WorkspaceEventsConsumer, WorkspaceLiveHtmlConsumer
from conversations.routing import websocket_urlpatterns as chat_websockets

websocket_urlpatterns = [
    path("ws/w/<slug:workspace_slug>/events/", WorkspaceEventsConsumer.as_asgi()),
    path("ws/w/<slug:workspace_slug>/live/", WorkspaceLiveHtmlConsumer.as_asgi()),
    *chat_websockets,
]
