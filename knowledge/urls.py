from django.urls import URLPattern, URLResolver, path

from knowledge import apis

api_urlpatterns: list[URLPattern | URLResolver] = [
    path("sources/", apis.SourceListCreateApi.as_view(), name="sources"),
    path("sources/<int:source_id>/", apis.SourceDetailApi.as_view(), name="source"),
    path("sources/<int:source_id>/upload/", apis.SourceUploadApi.as_view(), name="source_upload"),
    path("sources/<int:source_id>/sync/", apis.SourceSyncApi.as_view(), name="source_sync"),
    path("articles/", apis.ArticleListApi.as_view(), name="articles"),
    path("articles/<int:article_id>/", apis.ArticleDetailApi.as_view(), name="article"),
    path("search/", apis.SearchApi.as_view(), name="search"),
]
