"""URLs of the console's Flows section, included under /w/<slug>/flows/.

Each group of the flow's pages has its own URL module (and views module), so they can change
independently; `templates/routing/_flow_tabs.html` links them all.
"""

from django.urls import include, path

from console import flow_views as views

urlpatterns = [
    path("", views.flows, name="flows"),
    path("<int:flow_id>/", views.flow_detail, name="flow"),
    path("<int:flow_id>/", include("console.flow_settings_urls")),
    path("<int:flow_id>/", include("console.flow_calibration_urls")),
    path("<int:flow_id>/rules/", include("console.flow_rules_urls")),
    path("<int:flow_id>/", include("console.flow_release_urls")),
]
