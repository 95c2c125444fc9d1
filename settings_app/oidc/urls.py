"""/oidc/ routes (mozilla-django-oidc's names, so its helpers find them)."""

from django.urls import path

from settings_app.oidc import views

urlpatterns = [
    path("authenticate/", views.AuthenticateView.as_view(), name="oidc_authentication_init"),
    path("callback/", views.CallbackView.as_view(), name="oidc_authentication_callback"),
]
