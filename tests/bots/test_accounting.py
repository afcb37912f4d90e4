from decimal import Decimal as D

from bots.accounting import Book, apply_fill


def test_buying_twice_averages_the_entry():
    book, realized = apply_fill(Book(), "buy", D("1"), D("100"), D("0.1"))
    book, _ = apply_fill(book, "buy", D("1"), D("110"), D("0.11"))
    assert (book.amount, book.average_price) == (D("2"), D("105"))
    assert book.realized_pnl == D("-0.21")  # only fees so far
    assert book.unrealized(D("120")) == D("30")


def test_selling_realises_the_difference_less_fees():
    book, _ = apply_fill(Book(), "buy", D("2"), D("100"), D("0.2"))
    book, realized = apply_fill(book, "sell", D("1"), D("130"), D("0.13"))
    assert realized == D("29.87")  # 1 * (130 - 100) - 0.13
    assert (book.amount, book.average_price) == (D("1"), D("100"))
    assert book.realized_pnl == D("29.67")
    assert book.fees == D("0.33")


def test_a_short_gains_when_the_price_falls_and_can_flip_long():
    book, _ = apply_fill(Book(), "sell", D("1"), D("100"), D("0"))
    assert book.unrealized(D("90")) == D("10")
    book, realized = apply_fill(book, "buy", D("3"), D("90"), D("0"))
    assert realized == D("10")
    assert (book.amount, book.average_price) == (D("2"), D("90"))
