from django.urls import URLPattern, URLResolver, path

from routing import apis

api_urlpatterns: list[URLPattern | URLResolver] = [
    path("flows/", apis.FlowListApi.as_view(), name="flows"),
    path("flows/<int:flow_id>/", apis.FlowDetailApi.as_view(), name="flow"),
    path("flows/<int:flow_id>/draft/", apis.FlowDraftApi.as_view(), name="flow_draft"),
    path("flows/<int:flow_id>/publish/", apis.FlowPublishApi.as_view(), name="flow_publish"),
    path("flows/<int:flow_id>/simulate/", apis.FlowSimulateApi.as_view(), name="flow_simulate"),
    path("flows/<int:flow_id>/versions/", apis.FlowVersionListApi.as_view(), name="flow_versions"),
    path(
        "flows/<int:flow_id>/versions/<int:number>/rollback/",
        apis.FlowRollbackApi.as_view(),
        name="flow_rollback",
    ),
    path("traces/", apis.DecisionTraceListApi.as_view(), name="traces"),
    path("traces/<int:trace_id>/", apis.DecisionTraceDetailApi.as_view(), name="trace"),
    path("queues/", apis.QueueListCreateApi.as_view(), name="queues"),
    path("queues/<int:queue_id>/", apis.QueueDetailApi.as_view(), name="queue"),
    path("actions/", apis.ActionListCreateApi.as_view(), name="actions"),
    path(
        "actions/templates/",
        apis.ActionTemplatesInstallApi.as_view(),
        name="action_templates_install",
    ),
    path("actions/<int:action_id>/", apis.ActionDetailApi.as_view(), name="action"),
    path("action-policies/", apis.ActionPolicyApi.as_view(), name="action_policies"),
    path(
        "action-webhook-secret/",
        apis.ActionWebhookSecretApi.as_view(),
        name="action_webhook_secret",
    ),
    path(
        "action-webhook-secret/rotate/",
        apis.ActionWebhookSecretRotateApi.as_view(),
        name="action_webhook_secret_rotate",
    ),
]
