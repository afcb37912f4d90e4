from tests.conftest import PASSWORD


def attempt(client, user, password):
    return client.post("/accounts/login/", {"login": user.email, "password": password})


def test_repeated_failures_lock_the_account_even_for_the_right_password(acme):
    client = acme.client()
    for _ in range(5):
        response = attempt(client, acme.owner, "wrong password")
        assert response.status_code == 200
    response = attempt(client, acme.owner, PASSWORD)
    assert response.status_code == 200
    assert "Too many failed login attempts" in str(response.context["form"].errors)
    assert not client.get("/").wsgi_request.user.is_authenticated


def test_failures_on_one_account_do_not_lock_another(acme):
    client = acme.client()
    for _ in range(5):
        attempt(client, acme.owner, "wrong password")
    response = attempt(client, acme.trader, PASSWORD)
    assert response.status_code == 302


def test_many_failures_from_one_address_are_throttled_across_accounts(acme, make_workspace):
    client = acme.client()
    others = [acme.admin, acme.trader, acme.viewer, acme.outsider]
    for i in range(10):
        attempt(client, others[i % len(others)], "wrong password")
    response = attempt(client, acme.owner, PASSWORD)
    assert response.status_code == 200
    assert "Too many failed login attempts" in str(response.context["form"].errors)
