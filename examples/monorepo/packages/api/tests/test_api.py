from shop_api import quote


def test_quote_uses_core_totals():
    assert quote([999, 1]) == {"items": "2", "total": "12.00"}
