"""The flow's settings pages (overview stages, guardrails), under /w/<slug>/flows/<id>/."""

from django.urls import path

from console import flow_settings_views as views

urlpatterns = [
    path("guardrails/", views.flow_guardrails, name="flow_guardrails"),
    path("guardrails/save/", views.flow_guardrails_save, name="flow_guardrails_save"),
    path("guardrails/preview/", views.flow_guardrails_preview, name="flow_guardrails_preview"),
    path("stages/<slug:stage>/", views.flow_stage, name="flow_stage"),
    path("stages/<slug:stage>/edit/", views.flow_stage_edit, name="flow_stage_edit"),
]
