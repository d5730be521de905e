"""The flow's settings pages (overview stages, guardrails), under /w/<slug>/flows/<id>/."""

from django.urls import path

from console import flow_views

urlpatterns = [
    path(
        "guardrails/",
        flow_views.flow_page_not_built,
        {"title": "Guardrails", "tab": "guardrails"},
        name="flow_guardrails",
    ),
]
