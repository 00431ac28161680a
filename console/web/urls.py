from django.contrib.auth import views as auth_views
from django.urls import path

from console.web.signin import ConsoleLoginView
from console.web.views import fleet, health

app_name = "console"

urlpatterns = [
    path("", fleet.home, name="home"),
    path("operator/", fleet.choose_operator, name="choose-operator"),
    path("login/", ConsoleLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health.healthz, name="healthz"),
]
