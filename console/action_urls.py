"""URLs of the console's Actions section, included under /w/<slug>/actions/."""

from django.urls import path

from console import action_views as views

urlpatterns = [
    path("", views.actions, name="actions"),
    path("new/", views.action_add, name="action_add"),
    path("templates/install/", views.templates_install, name="action_templates_install"),
    path("approvers/", views.approvers_update, name="action_approvers_update"),
    path(
        "webhook-secret/rotate/",
        views.webhook_secret_rotate,
        name="action_webhook_secret_rotate",
    ),
    path("requests/", views.action_requests, name="action_requests"),
    path("<int:action_id>/", views.action_detail, name="action"),
    path("<int:action_id>/edit/", views.action_edit, name="action_edit"),
    path("<int:action_id>/enabled/", views.action_enabled_set, name="action_enabled_set"),
    path("<int:action_id>/delete/", views.action_delete, name="action_delete"),
]
