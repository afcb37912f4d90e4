import pytest
from django.core.exceptions import ValidationError

from tenants.slugs import schema_name_for, slug_from_name, validate_slug


@pytest.mark.parametrize(
    "name, slug",
    [
        ("Acme", "acme"),
        ("Acme Trading Co.", "acme-trading-co"),
        ("  Moon -- Shot  ", "moon-shot"),
        ("Crème Brûlée", "creme-brulee"),
        ("a" * 40, "a" * 30),
    ],
)
def test_it_derives_the_address_from_the_name(name, slug):
    assert slug_from_name(name) == slug


@pytest.mark.parametrize("reserved", ["www", "admin", "api", "static", "support"])
def test_it_refuses_reserved_words_with_a_clear_message(reserved):
    with pytest.raises(ValidationError) as error:
        validate_slug(reserved)
    assert error.value.code == "reserved"
    assert "reserved" in error.value.messages[0]


@pytest.mark.parametrize(
    "slug, code",
    [
        ("ab", "too_short"),
        ("a" * 31, "too_long"),
        ("-acme", "invalid"),
        ("acme-", "invalid"),
        ("ac--me", "invalid"),
        ("Acme", "invalid"),
        ("ac_me", "invalid"),
        ("ac.me", "invalid"),
    ],
)
def test_it_refuses_malformed_addresses(slug, code):
    with pytest.raises(ValidationError) as error:
        validate_slug(slug)
    assert error.value.code == code


def test_a_name_without_latin_letters_or_digits_yields_no_usable_address():
    with pytest.raises(ValidationError) as error:
        validate_slug(slug_from_name("交易团队"))
    assert error.value.code == "too_short"


def test_schema_names_never_collide_between_slugs():
    assert schema_name_for("my-desk") == "ws_my_desk"
    assert schema_name_for("my-desk") != schema_name_for("mydesk")
