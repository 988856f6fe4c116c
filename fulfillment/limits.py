"""Limits shared by the intake, the admin and the API: one number, one place (SPEC §7)."""

from __future__ import annotations

# Copies in one order line: a whole number from 1 to MAX_QUANTITY everywhere.
MAX_QUANTITY = 10_000
ERROR_QUANTITY = f"Enter a whole number of copies from 1 to {MAX_QUANTITY:,}."

# Test sales a publisher may send from its account page in one minute (issue 20 #10).
TEST_SALES_PER_MINUTE = 10
