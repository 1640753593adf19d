"""A quote for a basket, using shop-core's arithmetic."""

from __future__ import annotations

import sys

from shop_core import shown, total


def quote(prices_in_cents: list[int], tax_percent: int = 20) -> dict[str, str]:
    return {"items": str(len(prices_in_cents)), "total": shown(total(prices_in_cents, tax_percent))}


def main() -> None:
    print(quote([int(arg) for arg in sys.argv[1:]]))
