from django.urls import path

from generation import views

urlpatterns = [
    path("generate/", views.generate_page, name="generate"),
    path("generate/models/", views.model_options, name="generate-models"),
    path("generate/model-info/", views.model_info, name="generate-model-info"),
    path("generate/price/", views.price, name="generate-price"),
    path("generations/<int:pk>/", views.generation_detail, name="generation-detail"),
    path("generations/<int:pk>/status/", views.generation_status, name="generation-status"),
    path("generations/<int:pk>/cancel/", views.generation_cancel, name="generation-cancel"),
    path("generations/<int:pk>/retry/", views.generation_retry, name="generation-retry"),
]
