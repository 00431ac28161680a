from django.contrib.auth import views as auth_views
from django.urls import path

from console.web.signin import ConsoleLoginView
from console.web.views import devices, fleet, health

app_name = "console"

urlpatterns = [
    path("", fleet.home, name="home"),
    path("operator/", fleet.choose_operator, name="choose-operator"),
    path("devices/<str:device_id>/", devices.device_page, name="device"),
    path("devices/<str:device_id>/<str:action>/", devices.device_action, name="device-action"),
    path("login/", ConsoleLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health.healthz, name="healthz"),
]
