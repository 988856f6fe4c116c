"""App configuration."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.urls import register_converter

from fulfillment.ids import IdConverter

# `<id:pk>` in URL patterns: ASCII digits, bounded (fulfillment/ids.py). Registered at import,
# before any URLconf is loaded.
register_converter(IdConverter, "id")


class FulfillmentConfig(AppConfig):
    """SamCart → TrepStar fulfillment."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "fulfillment"
    verbose_name = "TrepStar fulfillment"

    def ready(self) -> None:
        """Connect the post-migrate work, the project index hooks and the system checks."""
        from fulfillment import checks  # noqa: F401 - registers the checks
        from fulfillment.services.accounts import groups_ensure_after_migrate
        from fulfillment.signals import connect_post_migrate

        # Keep the staff and role groups' permissions current after every migrate.
        post_migrate.connect(groups_ensure_after_migrate, sender=self)
        connect_post_migrate(self)
