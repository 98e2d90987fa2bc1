import pytest


@pytest.mark.django_db
def test_home_renders(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b'id="language-switcher"' in response.content
