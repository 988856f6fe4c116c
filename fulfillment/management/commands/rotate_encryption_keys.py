"""Encrypt the stored SamCart API keys again with the first key of FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from fulfillment.services.samcart_keys import samcart_keys_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored SamCart API key with the first FIELD_ENCRYPTION_KEYS key. Put "
        "the new key first, keep the old ones after it, run this, then drop the old keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = samcart_keys_rotate()
        self.stdout.write(f"Re-encrypted {count} SamCart API key{'s' if count != 1 else ''}.")
