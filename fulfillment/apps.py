"""App configuration."""

from django.apps import AppConfig


class FulfillmentConfig(AppConfig):
    """SamCart → TrepStar fulfillment."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "fulfillment"
    verbose_name = "TrepStar fulfillment"
