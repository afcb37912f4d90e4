from django.db import connection
from django.test import Client


def test_the_base_domain_serves_the_public_site(public_client):
    response = public_client.get("/")
    assert response.status_code == 200
    assert b"Run your crypto trading bots" in response.content


def test_a_workspace_host_serves_its_workspace(acme):
    response = acme.client(acme.owner).get("/")
    assert response.status_code == 200
    assert response.context["workspace"] == acme.tenant
    assert acme.tenant.name.encode() in response.content


def test_an_unknown_workspace_host_gets_a_404_page(db):
    response = Client(HTTP_HOST="nobody-here.localhost").get("/")
    assert response.status_code == 404
    assert b"There is no workspace at this address" in response.content


def test_a_host_outside_the_base_domain_gets_a_404(db):
    response = Client(HTTP_HOST="evil.example.net").get("/")
    assert response.status_code == 404


def test_requests_run_in_the_workspace_schema(acme):
    acme.client(acme.owner).get("/")
    assert connection.schema_name == acme.tenant.schema_name
