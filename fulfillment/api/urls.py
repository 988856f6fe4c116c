"""URLs of the REST API (under /api/)."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib.auth.decorators import login_required
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views

SWAGGER_UI_CDN = "https://cdn.jsdelivr.net"
SWAGGER_UI_CSP = {
    "script-src": [SWAGGER_UI_CDN],
    "style-src": [SWAGGER_UI_CDN, UNSAFE_INLINE],
    "img-src": [SWAGGER_UI_CDN],
}

urlpatterns = [
    path("v1/orders/", views.OrderList.as_view(), name="api-orders"),
    path("v1/orders/release/", views.OrderRelease.as_view(), name="api-orders-release"),
    path("v1/orders/<int:pk>/", views.OrderDetail.as_view(), name="api-order"),
    path("v1/projects/", views.ProjectList.as_view(), name="api-projects"),
    path("v1/projects/<int:pk>/", views.ProjectDetail.as_view(), name="api-project"),
    path("v1/notifications/", views.NotificationList.as_view(), name="api-notifications"),
    path("v1/notifications/<int:pk>/", views.NotificationDetail.as_view(), name="api-notification"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # A login (SPEC §16; SERVE_PERMISSIONS in settings also guards the schema); Swagger UI still
    # comes from its CDN, so this page alone widens the Content-Security-Policy for it, and the
    # split view serves its start-up script as a file rather than inline.
    path(
        "docs/",
        login_required(
            csp_update(SWAGGER_UI_CSP)(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))
        ),
        name="api-docs",
    ),
]
