import re
from urllib.parse import urlsplit

from django.core import mail

NEW_PASSWORD = "a brand new passphrase 42"


def test_a_user_resets_a_forgotten_password(acme):
    client = acme.client()
    client.post("/accounts/password/reset/", {"email": acme.trader.email})
    assert len(mail.outbox) == 1
    link = urlsplit(re.search(r"http://\S+/accounts/password/reset/key/\S+", mail.outbox[0].body).group(0))
    assert link.hostname == acme.host

    form_page = client.get(link.path, follow=True)
    response = client.post(form_page.redirect_chain[-1][0], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302

    acme.trader.refresh_from_db()
    assert acme.trader.check_password(NEW_PASSWORD)


def test_an_unknown_address_gets_no_reset_link(acme):
    acme.client().post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert all("/password/reset/key/" not in message.body for message in mail.outbox)
