import pytest
from django.core.exceptions import ImproperlyConfigured

from exchanges import vault
from exchanges.vault import Sealed, SealBroken, seal, unseal


def test_a_sealed_value_opens_with_its_context():
    sealed = seal(b"api-secret-123", context="exchange-connection:ws_acme:1")
    assert sealed.key_id == "test2"
    assert b"api-secret-123" not in sealed.blob
    assert unseal(sealed, context="exchange-connection:ws_acme:1") == b"api-secret-123"


def test_every_seal_uses_a_fresh_nonce():
    first, second = (seal(b"same", context="c") for _ in range(2))
    assert first.blob[1:13] != second.blob[1:13]
    assert first.blob != second.blob


@pytest.mark.parametrize(
    "other_context", ["exchange-connection:ws_acme:2", "exchange-connection:ws_globex:1", ""]
)
def test_a_blob_moved_to_another_row_or_tenant_does_not_open(other_context):
    sealed = seal(b"secret", context="exchange-connection:ws_acme:1")
    with pytest.raises(SealBroken):
        unseal(sealed, context=other_context)


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_any_flipped_bit_is_detected(position):
    sealed = seal(b"secret", context="c")
    blob = bytearray(sealed.blob)
    blob[position] ^= 0x01
    with pytest.raises(SealBroken):
        unseal(Sealed(sealed.key_id, bytes(blob)), context="c")


def test_a_truncated_blob_or_a_changed_key_id_is_detected():
    sealed = seal(b"secret", context="c")
    with pytest.raises(SealBroken):
        unseal(Sealed(sealed.key_id, sealed.blob[:10]), context="c")
    with pytest.raises(SealBroken):
        unseal(Sealed("test1", sealed.blob), context="c")
    with pytest.raises(SealBroken):
        unseal(Sealed("unknown", sealed.blob), context="c")


def test_values_sealed_under_an_older_key_still_open(settings):
    settings.ENCRYPTION_KEYS = settings.ENCRYPTION_KEYS[1:]  # only test1: as before a rotation
    old = seal(b"secret", context="c")
    assert old.key_id == "test1"
    settings.ENCRYPTION_KEYS = ["test3:" + vault.generate_key_spec("x").split(":")[1], *settings.ENCRYPTION_KEYS]
    assert vault.newest_key_id() == "test3"
    assert unseal(old, context="c") == b"secret"
    assert seal(b"new", context="c").key_id == "test3"


@pytest.mark.parametrize(
    "ring", [[], ["nokey"], ["k1:c2hvcnQ="], ["k1:" + vault.generate_key_spec("a").split(":")[1]] * 2]
)
def test_a_broken_key_ring_is_refused_without_printing_key_material(settings, ring):
    settings.ENCRYPTION_KEYS = ring
    with pytest.raises(ImproperlyConfigured) as error:
        seal(b"x", context="c")
    for spec in ring:
        assert spec.partition(":")[2] not in str(error.value) or not spec.partition(":")[2]
