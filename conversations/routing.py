from django.urls import path

from conversations.consumers import CustomerChatConsumer

websocket_urlpatterns = [
    path("ws/chat/<slug:workspace_slug>/", CustomerChatConsumer.as_asgi()),
]
