"""The flow's routing rules editor, under /w/<slug>/flows/<id>/rules/.

Rules are addressed by their position in the draft's ordered list; every change carries the
draft revision it was made against, so a position never silently means another rule.
"""

from django.urls import path

from console import flow_rules_views as views

urlpatterns = [
    path("", views.flow_rules, name="flow_rules"),
    path("new/", views.flow_rule_add, name="flow_rule_add"),
    path("order/", views.flow_rules_reorder, name="flow_rules_reorder"),
    path("<int:position>/edit/", views.flow_rule_edit, name="flow_rule_edit"),
    path("<int:position>/move/", views.flow_rule_move, name="flow_rule_move"),
    path("<int:position>/switch/", views.flow_rule_switch, name="flow_rule_switch"),
    path("<int:position>/delete/", views.flow_rule_delete, name="flow_rule_delete"),
]
