"""The shop's shared core: prices in cents, so no float ever rounds a sum."""

from __future__ import annotations


def total(prices_in_cents: list[int], tax_percent: int = 0) -> int:
    """The sum of the prices with tax, rounded half up to a whole cent."""
    subtotal = sum(prices_in_cents)
    return subtotal + (subtotal * tax_percent + 50) // 100


def shown(cents: int) -> str:
    """`1234` as `"12.34"`."""
    return f"{cents // 100}.{cents % 100:02d}"
