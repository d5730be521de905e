"""The flow's test questions, publishing, version history and export/import pages, under
/w/<slug>/flows/<id>/."""

from django.urls import path

from console import flow_views

urlpatterns = [
    path(
        "tests/",
        flow_views.flow_page_not_built,
        {"title": "Test questions", "tab": "tests"},
        name="flow_tests",
    ),
    path(
        "publish/",
        flow_views.flow_page_not_built,
        {"title": "Publish and history", "tab": "publish"},
        name="flow_publish",
    ),
    path(
        "export/",
        flow_views.flow_page_not_built,
        {"title": "Export and import", "tab": "export"},
        name="flow_export",
    ),
]
