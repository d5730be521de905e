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
        "<int:conversation_id>/hand-back/",
        apis.ConversationHandBackApi.as_view(),
        name="conversation_hand_back",
    ),
    path(
        "<int:conversation_id>/transfer/",
        apis.ConversationTransferApi.as_view(),
        name="conversation_transfer",
    ),
    path(
        "<int:conversation_id>/assign/",
        apis.ConversationAssignApi.as_view(),
        name="conversation_assign",
    ),
    path(
        "<int:conversation_id>/reopen/",
        apis.ConversationReopenApi.as_view(),
        name="conversation_reopen",
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
    path(
        "<int:conversation_id>/action-requests/",
        apis.ConversationActionRequestsApi.as_view(),
        name="conversation_action_requests",
    ),
]

# Mounted at /api/v1/action-requests/ by config/urls.py.
action_request_api_urlpatterns: list[URLPattern | URLResolver] = [
    path("<int:request_id>/", apis.ActionRequestDetailApi.as_view(), name="action_request"),
    path(
        "<int:request_id>/approve/",
        apis.ActionRequestApproveApi.as_view(),
        name="action_request_approve",
    ),
    path(
        "<int:request_id>/reject/",
        apis.ActionRequestRejectApi.as_view(),
        name="action_request_reject",
    ),
]
