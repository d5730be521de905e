"""URLs of the console's Team section, included under /w/<slug>/team/."""

from django.urls import path

from console import team_views, views

urlpatterns = [
    path("", views.team, name="team"),
    path("invite/", team_views.member_invite, name="team_invite"),
    path("<int:member_id>/role/", team_views.member_role, name="team_member_role"),
    path("<int:member_id>/remove/", team_views.member_remove, name="team_member_remove"),
    path("queues/", team_views.queues, name="team_queues"),
    path("queues/add/", team_views.queue_add, name="team_queue_add"),
    path("queues/<int:queue_id>/", team_views.queue_detail, name="team_queue"),
    path("queues/<int:queue_id>/edit/", team_views.queue_edit, name="team_queue_edit"),
    path("queues/<int:queue_id>/members/", team_views.queue_members, name="team_queue_members"),
    path("queues/<int:queue_id>/delete/", team_views.queue_delete, name="team_queue_delete"),
]
