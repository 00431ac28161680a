from django.contrib.auth import views as auth_views
from django.urls import path

from console.web.views import fleet, health

app_name = "console"

urlpatterns = [
    path("", fleet.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="console/account/login.html"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health.healthz, name="healthz"),
]
