from django.contrib.auth import views as auth_views
from django.urls import path

from console.web.signin import ConsoleLoginView
from console.web.views import (
    account,
    alerts,
    audit,
    commands,
    devices,
    faults,
    fleet,
    health,
    people,
    records,
    runbooks,
    runs,
    sites,
)

app_name = "console"

urlpatterns = [
    path("", fleet.home, name="home"),
    path("operator/", fleet.choose_operator, name="choose-operator"),
    path("sites/<str:site_id>/", sites.site_page, name="site"),
    path("sites/<str:site_id>/flexibility/", sites.site_flexibility, name="site-flexibility"),
    path("devices/<str:device_id>/", devices.device_page, name="device"),
    path(
        "devices/<str:device_id>/diagnostics/",
        devices.device_diagnostic,
        name="device-diagnostic",
    ),
    path("devices/<str:device_id>/power/", devices.device_power, name="device-power"),
    path("devices/<str:device_id>/runs/", runs.run_start, name="run-start"),
    path("devices/<str:device_id>/<str:action>/", devices.device_action, name="device-action"),
    path("runbooks/", runbooks.runbook_list, name="runbooks"),
    path("runbooks/<str:slug>/", runbooks.runbook_page, name="runbook"),
    path("runs/", runs.run_list, name="runs"),
    path("runs/<str:run_id>/", runs.run_page, name="run"),
    path("runs/<str:run_id>/step/", runs.run_step, name="run-step"),
    path("runs/<str:run_id>/escalation/", runs.escalation_page, name="run-escalation"),
    path("runs/<str:run_id>/escalation.json", runs.escalation_json, name="run-escalation-json"),
    path("runs/<str:run_id>/<str:how>/", runs.run_end, name="run-end"),
    path("alerts/", alerts.inbox, name="alerts"),
    path("alerts/<str:alert_id>/<str:action>/", alerts.alert_action, name="alert-action"),
    path("faults/", faults.fault_list, name="faults"),
    path("faults/undocumented/", faults.undocumented, name="faults-undocumented"),
    # <path:>: a code is whatever a charger sent (up to 32 characters), "/" included.
    path("faults/<path:code>/", faults.fault_entry, name="fault"),
    path("commands/", commands.command_list, name="commands"),
    path("records/", records.record_list, name="records"),
    path("records.csv", records.records_csv, name="records-csv"),
    path("energy/", records.energy_page, name="energy"),
    path("audit/", audit.audit_log, name="audit"),
    path("audit.csv", audit.audit_csv, name="audit-csv"),
    path("people/", people.member_list, name="people"),
    path("people/new/", people.member_create, name="people-create"),
    path("people/<int:member_id>/", people.member_change, name="people-change"),
    path("account/", account.account_page, name="account"),
    path("login/", ConsoleLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health.healthz, name="healthz"),
]
