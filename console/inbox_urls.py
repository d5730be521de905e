"""URLs of the console's Inbox section, included under /w/<slug>/inbox/."""

from django.urls import path

from console import inbox_views as views

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<int:conversation_id>/", views.conversation_detail, name="inbox_conversation"),
    path("<int:conversation_id>/claim/", views.conversation_claim, name="inbox_claim"),
    path("<int:conversation_id>/reply/", views.conversation_reply, name="inbox_reply"),
    path("<int:conversation_id>/resolve/", views.conversation_resolve, name="inbox_resolve"),
    path("<int:conversation_id>/hand-back/", views.conversation_hand_back, name="inbox_hand_back"),
    path("<int:conversation_id>/transfer/", views.conversation_transfer, name="inbox_transfer"),
    path("<int:conversation_id>/assign/", views.conversation_assign, name="inbox_assign"),
    path("<int:conversation_id>/reopen/", views.conversation_reopen, name="inbox_reopen"),
    path(
        "<int:conversation_id>/action-requests/<int:request_id>/approve/",
        views.action_request_approve,
        name="inbox_action_request_approve",
    ),
    path(
        "<int:conversation_id>/action-requests/<int:request_id>/reject/",
        views.action_request_reject,
        name="inbox_action_request_reject",
    ),
    path(
        "<int:conversation_id>/traces/<int:trace_id>/",
        views.conversation_trace,
        name="inbox_trace",
    ),
]
