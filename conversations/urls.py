from django.urls import URLPattern, URLResolver, path

from conversations import apis

api_urlpatterns: list[URLPattern | URLResolver] = [
    path("", apis.ConversationListCreateApi.as_view(), name="conversations"),
    path("<int:conversation_id>/", apis.ConversationDetailApi.as_view(), name="conversation"),
    path(
        "<int:conversation_id>/messages/",
        apis.ConversationMessagesApi.as_view(),
        name="conversation_messages",
    ),
    path(
        "<int:conversation_id>/claim/",
        apis.ConversationClaimApi.as_view(),
        name="conversation_claim",
    ),
    path(
        "<int:conversation_id>/resolve/",
        apis.ConversationResolveApi.as_view(),
        name="conversation_resolve",
    ),
    path(
        "<int:conversation_id>/reply/",
        apis.ConversationReplyApi.as_view(),
        name="conversation_reply",
    ),
    path(
        "<int:conversation_id>/handoff/",
        apis.ConversationHandoffApi.as_view(),
        name="conversation_handoff",
    ),
]
