from django.urls import include, path

from console import audit_views, flow_rules_views, views
from console.navigation import NOT_BUILT_KEYS

app_name = "console"

urlpatterns = [
    path("", views.console_home, name="home"),
    path("w/<slug:workspace_slug>/", views.workspace_home, name="workspace_home"),
    path("w/<slug:workspace_slug>/team/", include("console.team_urls")),
    path("w/<slug:workspace_slug>/audit/", audit_views.audit_log, name="audit"),
    path("w/<slug:workspace_slug>/api-keys/", views.api_keys, name="api_keys"),
    path(
        "w/<slug:workspace_slug>/api-keys/<int:key_id>/revoke/",
        views.api_key_revoke,
        name="api_key_revoke",
    ),
    path("w/<slug:workspace_slug>/flows/", include("console.flow_urls")),
    path("w/<slug:workspace_slug>/rules/", flow_rules_views.rules_section, name="rules"),
    path("w/<slug:workspace_slug>/knowledge/", include("console.knowledge_urls")),
    path("w/<slug:workspace_slug>/inbox/", include("console.inbox_urls")),
    path("w/<slug:workspace_slug>/actions/", include("console.action_urls")),
    path("w/<slug:workspace_slug>/chat-widget/", include("console.widget_urls")),
    *(
        path(
            f"w/<slug:workspace_slug>/{key}/",
            views.section_not_built,
            {"section": key},
            name=key.replace("-", "_"),
        )
        for key in NOT_BUILT_KEYS
    ),
]
