"""URLs of the console's Chat widget page, included under /w/<slug>/chat-widget/."""

from django.urls import path

from console import widget_views as views

urlpatterns = [
    path("", views.chat_widget, name="chat_widget"),
    path("origins/", views.chat_widget_origins, name="chat_widget_origins"),
]
