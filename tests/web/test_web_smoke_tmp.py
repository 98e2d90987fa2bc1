import pytest
from tests.conftest import PASSWORD

@pytest.mark.django_db
def test_smoke(client, alice, carol, olga, italy, list_targets):
    list_targets(italy, ["a.example", "b.example"])
    client.login(username="alice", password=PASSWORD)
    for url in ["/", "/listings/", "/listings/upload/", "/tokens/", "/dashboard/"]:
        r = client.get(url)
        print(url, r.status_code)
    r = client.get("/download/"); print("dl alice", r.status_code)
    r = client.post("/listings/add/", {"target": "http://x", "category": "other"}); print(r.status_code, r.content.decode()[r.content.decode().find('field-error')-200:][:500])
    client.login(username="carol", password=PASSWORD)
    for url in ["/download/", "/download/sitealert.txt", "/tokens/", "/listings/"]:
        r = client.get(url); print(url, r.status_code)
