"""URLs of the console's Knowledge section, included under /w/<slug>/knowledge/."""

from django.urls import path

from console import knowledge_views as views

urlpatterns = [
    path("", views.sources, name="knowledge"),
    path("sources/new/<slug:kind>/", views.source_add, name="knowledge_source_add"),
    path("sources/<int:source_id>/row/", views.source_row, name="knowledge_source_row"),
    path("sources/<int:source_id>/sync/", views.source_sync, name="knowledge_source_sync"),
    path("sources/<int:source_id>/delete/", views.source_delete, name="knowledge_source_delete"),
    path("articles/", views.articles, name="knowledge_articles"),
    path("articles/<int:article_id>/", views.article, name="knowledge_article"),
    path("search/", views.search, name="knowledge_search"),
]
