"""The flow's routing rules editor, under /w/<slug>/flows/<id>/rules/."""

from django.urls import path

from console import flow_views

urlpatterns = [
    path(
        "",
        flow_views.flow_page_not_built,
        {"title": "Rules", "tab": "rules"},
        name="flow_rules",
    ),
]
