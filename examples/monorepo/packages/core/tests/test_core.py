from shop_core import shown, total


def test_total_adds_tax_rounded_half_up():
    assert total([999, 1], tax_percent=20) == 1200
    assert total([5], tax_percent=10) == 6


def test_shown():
    assert shown(1204) == "12.04"
