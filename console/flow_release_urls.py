"""The flow's test questions, publishing, version history and export/import pages, under
/w/<slug>/flows/<id>/."""

from django.urls import path

from console import flow_export, flow_release_views, flow_tests_views

urlpatterns = [
    path("tests/", flow_tests_views.flow_tests, name="flow_tests"),
    path("tests/run/", flow_tests_views.flow_tests_run, name="flow_tests_run"),
    path("tests/new/", flow_tests_views.flow_test_add, name="flow_test_add"),
    path("tests/<int:question_id>/edit/", flow_tests_views.flow_test_edit, name="flow_test_edit"),
    path(
        "tests/<int:question_id>/delete/",
        flow_tests_views.flow_test_delete,
        name="flow_test_delete",
    ),
    path("tests/import/", flow_tests_views.flow_tests_import, name="flow_tests_import"),
    path("tests/export.jsonl", flow_tests_views.flow_tests_export, name="flow_tests_export"),
    path("publish/", flow_release_views.flow_publish, name="flow_publish"),
    path("publish/check/", flow_release_views.flow_publish_check, name="flow_publish_check"),
    path("publish/version/", flow_release_views.flow_publish_version, name="flow_publish_version"),
    path(
        "publish/versions/<int:version_id>/rollback/",
        flow_release_views.flow_rollback,
        name="flow_rollback",
    ),
    path("export/", flow_export.flow_export, name="flow_export"),
    path("export/flow.yaml", flow_export.flow_export_download, name="flow_export_download"),
    path("export/import/", flow_export.flow_import, name="flow_import"),
]
