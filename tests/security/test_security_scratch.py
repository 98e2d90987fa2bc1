import json
import pytest
from django.test import Client

@pytest.mark.django_db
def test_probe(client, alice, carol, italy_token, adco_token, list_targets, italy):
    list_targets(italy, ["films.example"])
    h = {"Authorization": f"Bearer {italy_token}"}
    for body in [b"[" * 100000 + b"]" * 100000, b'{"entries": ' + b"[" * 5000 + b"]" * 5000 + b"}", b"\xff\xfe\x00garbage", '{"entries":[{"target":"caf\xe9.example","category":"other"}]}'.encode("latin-1")]:
        r = client.post("/api/v1/listings", data=body, content_type="application/json", headers=h)
        print(r.status_code, r.content[:300])
    r = client.post("/api/v1/lookup", data=b"[" * 100000, content_type="application/json", headers={"Authorization": f"Bearer {adco_token}"})
    print("lookup", r.status_code, r.content[:200])
    c = Client(enforce_csrf_checks=True); c.force_login(alice)
    r = c.post("/api/v1/listings", data=json.dumps({"entries": [{"target": "x.example", "category": "other"}]}), content_type="application/json")
    print("session", r.status_code, r.content[:200])
    c.force_login(carol)
    print("feed session", c.get("/api/v1/feed").status_code)
    print("feed qs", client.get(f"/api/v1/feed?token={adco_token}").status_code, client.get(f"/api/v1/feed?access_token={adco_token}").status_code)
    r = client.get("/api/v1/docs"); print("docs", r.status_code, r["Content-Security-Policy"]); print(r.content.decode()[:3000])
