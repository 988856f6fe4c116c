"""URLs of the REST API (under /api/)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views

urlpatterns = [
    path("v1/orders/", views.OrderList.as_view(), name="api-orders"),
    path("v1/orders/release/", views.OrderRelease.as_view(), name="api-orders-release"),
    path("v1/orders/<int:pk>/", views.OrderDetail.as_view(), name="api-order"),
    path("v1/projects/", views.ProjectList.as_view(), name="api-projects"),
    path("v1/projects/<int:pk>/", views.ProjectDetail.as_view(), name="api-project"),
    path("v1/notifications/", views.NotificationList.as_view(), name="api-notifications"),
    path("v1/notifications/<int:pk>/", views.NotificationDetail.as_view(), name="api-notification"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
