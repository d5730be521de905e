"""URLs of the console's Flows section, included under /w/<slug>/flows/."""

from django.urls import path

from console import flow_views as views

urlpatterns = [
    path("", views.flows, name="flows"),
    path("<int:flow_id>/", views.flow_detail, name="flow"),
    path("<int:flow_id>/simulate/", views.flow_simulate, name="flow_simulate"),
]
