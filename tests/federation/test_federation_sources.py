"""Operating sources: `sitealert source …`, the worker's due pulls over real HTTP, staleness
(/metrics and one e-mail per stale period)."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from sitealert.cli import main
from sitealert.federation.models import FederatedAuthority, Source
from sitealert.federation.pull import ResyncNeeded
from sitealert.federation.sources import alert_stale_sources, pull_due_sources
from sitealert.listings.models import Listing
from sitealert.organizations.models import Organization
from tests.federation.upstream import UPSTREAM, Upstream, authority

pytestmark = pytest.mark.django_db
KEY = f"{UPSTREAM}:arcom"
TOKEN = "feed-token-of-upstream"


class Served:
    """An upstream's federation documents on a loopback HTTP server, as its API serves them."""

    def __init__(self, upstream):
        self.upstream, self.requests = upstream, []
        served = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                served.requests.append(self.path)
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self.answer(401, {"detail": "Invalid token."})
                if parts.path == "/api/v1/federation/authorities":
                    return self.answer(200, served.upstream.authorities())
                if parts.path == "/api/v1/federation/listings":
                    since = int(parse_qs(parts.query).get("since", ["0"])[0])
                    try:
                        return self.answer(200, served.upstream.listings(since))
                    except ResyncNeeded:
                        return self.answer(410, {"error": "resync_required"})
                self.answer(404, {"detail": "Not found."})

            def answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream():
    up = Upstream()
    up.add_authority(authority("arcom", name="Arcom"))
    up.list(KEY, "one.test")
    up.list(KEY, "two.test")
    return up


@pytest.fixture
def served(upstream):
    server = Served(upstream)
    yield server
    server.close()


def test_add_pull_list_and_remove_from_the_command_line(served, upstream, capsys):
    assert main(["source", "add", "arcom-fr", "--api", served.url, "--token", TOKEN, "--every", "600"]) == 0
    assert "added arcom-fr" in capsys.readouterr().out
    assert main(["source", "pull", "arcom-fr"]) == 0
    assert "2 added" in capsys.readouterr().out
    org = Organization.objects.get(origin=KEY)
    assert set(Listing.objects.filter(contributor=org).values_list("target", flat=True)) == {"one.test", "two.test"}
    upstream.oldest = upstream.version + 1  # the upstream's history no longer reaches the source's version
    upstream.list(KEY, "three.test")
    assert main(["source", "pull", "--all"]) == 0
    assert "(full)" in capsys.readouterr().out
    assert any("since=0" in r for r in served.requests[-2:])
    assert main(["source", "list", "--json"]) == 0
    (state,) = json.loads(capsys.readouterr().out)
    assert state["name"] == "arcom-fr" and state["version"] == upstream.version and not state["stale"]
    assert main(["source", "remove", "arcom-fr"]) == 2
    assert "--purge" in capsys.readouterr().err
    assert main(["source", "remove", "arcom-fr", "--purge"]) == 0
    assert not Source.objects.exists() and not FederatedAuthority.objects.exists()
    assert not Listing.objects.filter(contributor=org, status=Listing.Status.ACTIVE).exists()
    assert Organization.objects.filter(origin=KEY).exists()  # its procedures stay readable


def test_a_refused_token_is_recorded_and_nothing_changes(served, capsys):
    main(["source", "add", "arcom-fr", "--api", served.url, "--token", "wrong"])
    assert main(["source", "pull", "arcom-fr"]) == 1
    assert "refused the token" in capsys.readouterr().out
    source = Source.objects.get()
    assert "refused the token" in source.last_error and source.version == 0
    assert not Organization.objects.filter(origin=KEY).exists()


@pytest.mark.parametrize("argv, says", [
    (["source", "add", "x", "--api", "ftp://nowhere", "--token", "t"], "not an http:// or https://"),
    (["source", "add", "x", "--api", "https://up.test"], "needs a feed token"),
    (["source", "add", "x", "--mirror", "https://up.test"], "--root"),
    (["source", "add", "x", "--mirror", "https://up.test", "--root", "/nonexistent/root.json"], "cannot read"),
    (["source", "add", "x", "--list", "https://up.test/list.csv", "--org", "nobody"], "no organization"),
    (["source", "add", "Not A Slug", "--api", "https://up.test", "--token", "t"], "short slug"),
    (["source", "pull", "nothing-here"], "no source named"),
    (["source", "pull"], "--all"),
    (["source", "confirm", "nothing-here"], "no source named"),
])
def test_bad_input_is_one_clear_line(argv, says, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


def test_a_duplicate_name_and_a_root_that_is_not_one_are_refused(tmp_path, capsys):
    assert main(["source", "add", "x", "--api", "https://up.test", "--token", "t"]) == 0
    assert main(["source", "add", "x", "--api", "https://up.test", "--token", "t"]) == 2
    assert "already a source named 'x'" in capsys.readouterr().err
    root = tmp_path / "root.json"
    root.write_text("{}")
    assert main(["source", "add", "y", "--mirror", "https://up.test", "--root", str(root)]) == 2
    assert "not TUF root metadata" in capsys.readouterr().err


def test_the_worker_pulls_due_sources_once(served):
    source = Source.objects.create(name="arcom-fr", kind="api", url=served.url, token=TOKEN, every=600)
    now = timezone.now()
    (result,) = pull_due_sources(now)
    assert not result.error and result.added == 2
    assert pull_due_sources(now + timedelta(seconds=60)) == []  # not due yet
    source.refresh_from_db()
    assert source.last_success_at == now


def metrics(client):
    found = {}
    for family in text_string_to_metric_families(client.get("/metrics").content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_a_stale_source_shows_in_metrics_and_mails_the_operator_once(served, client, olga, mailoutbox, settings):
    settings.SITEALERT = {**settings.SITEALERT, "FEDERATION_STALE_AFTER": 3600}
    source = Source.objects.create(name="arcom-fr", kind="api", url="http://127.0.0.1:9/", token=TOKEN, every=600)
    Source.objects.filter(pk=source.pk).update(created_at=timezone.now() - timedelta(hours=2))
    found = metrics(client)
    assert found[("sitealert_federation_stale", (("source", "arcom-fr"),))] == 1
    assert found[("sitealert_federation_lag_seconds", (("source", "arcom-fr"),))] >= 7200
    assert alert_stale_sources() == ["arcom-fr"]
    assert alert_stale_sources() == []  # one e-mail per stale period
    (mail,) = mailoutbox
    assert mail.to == [olga.email] and "arcom-fr" in mail.subject
    Source.objects.filter(pk=source.pk).update(url=served.url)
    assert not pull_due_sources()[0].error  # a success ends the stale period
    assert metrics(client)[("sitealert_federation_stale", (("source", "arcom-fr"),))] == 0
    Source.objects.filter(pk=source.pk).update(last_success_at=timezone.now() - timedelta(hours=3))
    assert alert_stale_sources() == ["arcom-fr"] and len(mailoutbox) == 2


def test_a_stale_source_with_no_operator_address_is_logged(caplog):
    Source.objects.create(name="old", kind="api", url="https://up.test", token="t",
                          created_at=timezone.now() - timedelta(days=2))
    assert alert_stale_sources() == ["old"]
    assert "no operator account has an e-mail address" in caplog.text


def test_the_admin_shows_the_state_pulls_now_and_keeps_authorities_read_only(served, login, olga):
    source = Source.objects.create(name="arcom-fr", kind="api", url=served.url, token=TOKEN)
    client = login(olga)
    page = client.get("/admin/federation/source/").content.decode()
    assert "arcom-fr" in page and TOKEN not in page
    response = client.post("/admin/federation/source/", {"action": "pull_now", "_selected_action": [source.pk]},
                           follow=True)
    assert "rcom-fr: version 3, 2 listings changed." in response.content.decode()  # the admin capitalizes it
    page = client.get(f"/admin/federation/source/{source.pk}/change/").content.decode()
    assert f"{TOKEN[:6]}…" in page and TOKEN not in page
    authority = FederatedAuthority.objects.get()
    page = client.get(f"/admin/federation/federatedauthority/{authority.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert client.post("/admin/federation/federatedauthority/add/").status_code == 403


def test_an_unexpected_failure_is_recorded_and_the_other_sources_still_pulled(served, monkeypatch):
    from sitealert.federation import pull as pulling

    broken = Source.objects.create(name="a-broken", kind="api", url=served.url, token=TOKEN)
    Source.objects.create(name="b-fine", kind="api", url=served.url.replace("127.0.0.1", "localhost"), token=TOKEN)
    real = pulling._apply

    def crash(source, *args, **kwargs):
        if source.name == "a-broken":
            raise RuntimeError("disk full")
        return real(source, *args, **kwargs)

    monkeypatch.setattr(pulling, "_apply", crash)
    results = {r.source: r for r in pull_due_sources()}
    assert "RuntimeError: disk full" in results["a-broken"].error and not results["b-fine"].error
    broken.refresh_from_db()
    assert "disk full" in broken.last_error and broken.version == 0
