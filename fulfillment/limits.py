"""Limits shared by the intake, the admin and the API: one number, one place (SPEC §7)."""

from __future__ import annotations

# Copies in one order line: a whole number from 1 to MAX_QUANTITY everywhere.
MAX_QUANTITY = 10_000
ERROR_QUANTITY = f"Enter a whole number of copies from 1 to {MAX_QUANTITY:,}."
