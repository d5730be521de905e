"""The flow's thresholds (calibration) and simulator pages, under /w/<slug>/flows/<id>/."""

from django.urls import path

from console import flow_calibration_views as views

urlpatterns = [
    path("thresholds/", views.thresholds, name="flow_thresholds"),
    path("thresholds/calibrate/", views.calibrate, name="flow_calibrate"),
    path("thresholds/save/", views.thresholds_save, name="flow_thresholds_save"),
    path("simulator/", views.simulator, name="flow_simulator"),
    path("simulator/run/", views.simulator_run, name="flow_simulator_run"),
]
