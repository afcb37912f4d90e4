import pytest


@pytest.mark.parametrize(
    "path", ["/static/vendor/htmx-2.0.11.min.js", "/static/vendor/htmx-ext-ws-2.0.4.min.js", "/static/css/aviary.css"]
)
def test_vendored_assets_are_served_by_the_app_itself(public_client, path):
    response = public_client.get(path)
    assert response.status_code == 200
    assert b"".join(response.streaming_content)


def test_every_page_loads_htmx_and_its_websocket_extension(acme):
    body = acme.client(acme.owner).get("/").content.decode()
    assert "/static/vendor/htmx-2.0.11.min.js" in body
    assert "/static/vendor/htmx-ext-ws-2.0.4.min.js" in body
    assert 'ws-connect="/ws/workspace/?view=dashboard"' in body
