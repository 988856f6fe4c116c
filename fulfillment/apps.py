"""App configuration."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class FulfillmentConfig(AppConfig):
    """SamCart → TrepStar fulfillment."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "fulfillment"
    verbose_name = "TrepStar fulfillment"

    def ready(self) -> None:
        """Keep the staff and role groups' permissions current after every migrate."""
        from fulfillment.services.accounts import groups_ensure_after_migrate

        post_migrate.connect(groups_ensure_after_migrate, sender=self)
