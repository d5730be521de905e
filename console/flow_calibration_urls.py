"""The flow's thresholds (calibration) and simulator pages, under /w/<slug>/flows/<id>/."""

from django.urls import path

from console import flow_views

urlpatterns = [
    path(
        "thresholds/",
        flow_views.flow_page_not_built,
        {"title": "Thresholds", "tab": "thresholds"},
        name="flow_thresholds",
    ),
    path(
        "simulator/",
        flow_views.flow_page_not_built,
        {"title": "Simulator", "tab": "simulator"},
        name="flow_simulator",
    ),
]
