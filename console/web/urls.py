from django.contrib.auth import views as auth_views
from django.urls import path

from console.web.signin import ConsoleLoginView
from console.web.views import alerts, commands, devices, fleet, health, people, records, sites

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
    path("devices/<str:device_id>/<str:action>/", devices.device_action, name="device-action"),
    path("alerts/", alerts.inbox, name="alerts"),
    path("alerts/<str:alert_id>/<str:action>/", alerts.alert_action, name="alert-action"),
    path("commands/", commands.command_list, name="commands"),
    path("records/", records.record_list, name="records"),
    path("records.csv", records.records_csv, name="records-csv"),
    path("energy/", records.energy_page, name="energy"),
    path("people/", people.member_list, name="people"),
    path("people/new/", people.member_create, name="people-create"),
    path("people/<int:member_id>/", people.member_change, name="people-change"),
    path("login/", ConsoleLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health.healthz, name="healthz"),
]
