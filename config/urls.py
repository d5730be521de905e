from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView

from config.health import healthz
from console.apis import WorkspaceChatWidgetApi, WorkspaceDetailApi
from conversations.chat_views import chat_page
from conversations.urls import action_request_api_urlpatterns as action_requests_api
from conversations.urls import api_urlpatterns as conversations_api
from knowledge.urls import api_urlpatterns as knowledge_api
from routing.urls import api_urlpatterns as routing_api

api_v1: list[URLPattern | URLResolver] = [
    path("workspace/", WorkspaceDetailApi.as_view(), name="workspace"),
    path("workspace/chat-widget/", WorkspaceChatWidgetApi.as_view(), name="workspace_chat_widget"),
    path("conversations/", include((conversations_api, "conversations"))),
    path("action-requests/", include((action_requests_api, "action_requests"))),
    path("knowledge/", include((knowledge_api, "knowledge"))),
    path("routing/", include((routing_api, "routing"))),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("chat/<slug:workspace_slug>/", chat_page, name="chat"),
    path("", include("console.urls")),
]
