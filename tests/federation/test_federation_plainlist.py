"""Plain-list sources (docs/federation.md#plain-list-sources): a contributor's list at a URL, pulled
from a real HTTP server on loopback under the monitoring probe's address rules.

The list server listens on 127.0.0.2, the one address these tests allow (MONITOR_ALLOW_NETWORKS);
names are answered by the monitoring harness's DNS server.
"""

import hashlib
import http.server
import ipaddress
import threading

import pytest
from django.urls import reverse

from sitealert.core.models import AuditEvent
from sitealert.federation import plainlist
from sitealert.federation.models import Source
from sitealert.listings.models import Listing
from tests.monitoring.harness import DNSServer

SITE_ADDRESS = "127.0.0.2"
LAST_MODIFIED = "Sat, 05 Dec 2026 10:00:00 GMT"


class ListServer:
    """Serves `documents[path]` with an ETag and a Last-Modified (unless `validators` is off),
    answering 304 to a matching If-None-Match; keeps each request's headers."""

    def __init__(self):
        self.documents, self.requests, self.validators, self.redirects = {}, [], True, {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(dict(self.headers))
                if self.path in server.redirects:
                    self.send_response(302)
                    self.send_header("Location", server.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = server.documents.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if server.validators and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                if server.validators:
                    self.send_header("ETag", etag)
                    self.send_header("Last-Modified", LAST_MODIFIED)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer((SITE_ADDRESS, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path="/list.txt", host=SITE_ADDRESS):
        return f"http://{host}:{self.port}{path}"

    def publish(self, text, path="/list.txt"):
        self.documents[path] = text.encode() if isinstance(text, str) else text


@pytest.fixture
def list_server(settings):
    server = ListServer()
    server.thread.start()
    settings.SITEALERT = {**settings.SITEALERT, "MONITOR_ALLOW_NETWORKS": (ipaddress.ip_network(f"{SITE_ADDRESS}/32"),),
                          "MONITOR_CONNECT_TIMEOUT": 2.0, "FEDERATION_LIST_TIMEOUT": 5.0}
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def source(italy, list_server):
    return Source.objects.create(name="agcom-list", kind=Source.Kind.LIST, url=list_server.url(), contributor=italy)


def targets(text):
    return "".join(f"{t}\n" for t in text)


TEN = [f"site{i}.example" for i in range(10)]


def active(org):
    return set(Listing.objects.filter(contributor=org, status=Listing.Status.ACTIVE).values_list("target", flat=True))


def test_first_fetch_lists_every_target_of_a_plain_list(italy, source, list_server):
    list_server.publish("# AGCOM's list, one target a line\n\nalpha.example\n  beta.example  \n# end\n")
    result = plainlist.pull_list(source)
    assert (result.error, result.added, result.removed, result.version) == ("", 2, 0, 1)
    assert active(italy) == {"alpha.example", "beta.example"}
    assert set(Listing.objects.filter(contributor=italy).values_list("category", flat=True)) == {"other"}
    source.refresh_from_db()
    assert source.etag.startswith('"') and source.last_modified == LAST_MODIFIED
    assert source.last_success_at is not None and source.last_error == "" and source.pending is None


def test_csv_document_carries_categories_and_references(italy, source, list_server):
    list_server.publish("target,category,reference,note\nalpha.example,streaming-video,case-7,seen live\n"
                        "beta.example,torrent-index,,\n")
    assert plainlist.pull_list(source).added == 2
    alpha = Listing.objects.get(contributor=italy, target="alpha.example")
    assert (alpha.category, alpha.reference, alpha.note) == ("streaming-video", "case-7", "seen live")


def test_an_unchanged_list_is_a_conditional_request_answered_304(italy, source, list_server):
    list_server.publish(targets(TEN))
    plainlist.pull_list(source)
    first_event = AuditEvent.objects.latest("pk").pk
    result = plainlist.pull_list(source)
    assert result.unchanged and not result.error
    sent = list_server.requests[-1]
    assert sent["If-None-Match"] == Source.objects.get(pk=source.pk).etag
    assert sent["If-Modified-Since"] == LAST_MODIFIED
    assert AuditEvent.objects.latest("pk").pk == first_event  # nothing was written to the listings


def test_additions_and_removals_replace_the_contributor_list(italy, source, list_server, list_targets):
    list_targets(italy, ["manual.example"])  # listed by hand, not in the document: replaced too
    list_server.publish(targets(TEN + ["manual.example"]))
    plainlist.pull_list(source)
    list_server.publish(targets(TEN[1:] + ["manual.example", "new.example"]))
    result = plainlist.pull_list(source)
    assert (result.added, result.removed, result.error, result.pending) == (1, 1, "", False)
    assert active(italy) == set(TEN[1:]) | {"manual.example", "new.example"}
    gone = Listing.objects.get(contributor=italy, target=TEN[0])
    assert gone.status == Listing.Status.REMOVED
    assert gone.status_reason == "No longer in agcom-list's list"


def test_a_changed_listing_is_updated(italy, source, list_server):
    list_server.publish("target,category\nalpha.example,other\n")
    plainlist.pull_list(source)
    list_server.publish("target,category\nalpha.example,cyberlocker\n")
    result = plainlist.pull_list(source)
    assert (result.added, result.updated) == (0, 1)
    assert Listing.objects.get(contributor=italy, target="alpha.example").category == "cyberlocker"


def hold_a_run(italy, source, list_server):
    """Ten listings, then a document without half of them: held for confirmation."""
    list_server.publish(targets(TEN))
    plainlist.pull_list(source)
    list_server.publish(targets(TEN[5:] + ["new.example"]))
    return plainlist.pull_list(source)


def test_the_guard_holds_a_run_that_removes_too_much_and_tells_the_contributor(italy, alice, source, list_server,
                                                                               mailoutbox):
    result = hold_a_run(italy, source, list_server)
    assert result.pending and not result.error
    assert active(italy) == set(TEN)  # nothing applied, not even the addition
    source.refresh_from_db()
    run = plainlist.held_run(source)
    assert (run["listings"], run["removed"], run["added"]) == (10, 5, 1)
    assert run["sample"] == TEN[:5] and run["digest"].startswith("sha256:")
    assert [m.to for m in mailoutbox] == [["alice@example.test"]]
    assert "agcom-list" in mailoutbox[0].subject and "site0.example" in mailoutbox[0].body
    assert reverse("federation:list_sources") in mailoutbox[0].body
    assert AuditEvent.objects.filter(action="source.list_hold", object_repr="agcom-list").count() == 1
    # The same document again (a 304): still held, no second e-mail.
    assert plainlist.pull_list(source).pending
    assert len(mailoutbox) == 1


def test_members_confirm_a_held_run_on_their_page(italy, alice, source, list_server, login):
    hold_a_run(italy, source, list_server)
    client = login(alice)
    page = client.get(reverse("federation:list_sources"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "agcom-list" in html and "site0.example" in html and 'id="confirm-agcom-list"' in html
    digest = plainlist.held_run(Source.objects.get(pk=source.pk))["digest"]
    response = client.post(reverse("federation:list_run_confirm", args=["agcom-list"]), {"digest": digest})
    assert response.status_code == 302
    assert active(italy) == set(TEN[5:]) | {"new.example"}
    source.refresh_from_db()
    assert source.pending is None and source.version == 2
    event = AuditEvent.objects.get(action="source.list_confirm")
    assert event.user == alice and event.detail["removed"] == 5


def test_discarding_keeps_the_listings_and_the_same_document_is_not_held_again(italy, alice, source, list_server,
                                                                               login, mailoutbox):
    list_server.validators = False  # the same document is fetched whole each time
    hold_a_run(italy, source, list_server)
    digest = plainlist.held_run(Source.objects.get(pk=source.pk))["digest"]
    response = login(alice).post(reverse("federation:list_run_discard", args=["agcom-list"]), {"digest": digest})
    assert response.status_code == 302
    assert active(italy) == set(TEN)
    source.refresh_from_db()
    assert plainlist.held_run(source) is None and AuditEvent.objects.filter(action="source.list_discard").exists()
    result = plainlist.pull_list(source)
    assert result.unchanged and not result.pending and len(mailoutbox) == 1
    # A changed document is read again.
    list_server.publish(targets(TEN[5:]))
    assert plainlist.pull_list(source).pending and len(mailoutbox) == 2


def test_a_newer_fetch_replaces_the_held_run_and_the_old_one_cannot_be_confirmed(italy, alice, source, list_server,
                                                                                 as_actor):
    hold_a_run(italy, source, list_server)
    old = plainlist.held_run(Source.objects.get(pk=source.pk))["digest"]
    list_server.publish(targets(TEN[6:]))
    assert plainlist.pull_list(source).pending
    source.refresh_from_db()
    assert plainlist.held_run(source)["digest"] != old
    with pytest.raises(plainlist.ListRefused, match="newer fetch"):
        plainlist.confirm_pending(source, actor=as_actor(italy, via="web"), digest=old)
    assert active(italy) == set(TEN)


def test_the_command_line_confirms_a_held_run(italy, source, list_server, as_actor):
    hold_a_run(italy, source, list_server)
    source.refresh_from_db()
    result = plainlist.confirm_pending(source, actor=as_actor(None, via="cli"))
    assert (result.removed, result.added) == (5, 1)
    assert active(italy) == set(TEN[5:]) | {"new.example"}


def test_a_list_within_the_guard_clears_a_held_run(italy, source, list_server):
    hold_a_run(italy, source, list_server)
    list_server.publish(targets(TEN[1:]))
    result = plainlist.pull_list(source)
    assert (result.pending, result.removed) == (False, 1)
    assert Source.objects.get(pk=source.pk).pending is None


@pytest.mark.parametrize("document, row, words", [
    ("alpha.example\nbeta.example\nnot a domain!\n", 3, "row 3"),
    ("target,category\nalpha.example,other\nbeta.example,other\nbeta.example,other\n", 4, "row 4: Duplicate"),
    ("target,category\nalpha.example,other\ngamma.example,no-such-category\n", 3, "row 3: Unknown category"),
    ("target,category\nalpha.example,other,extra\n", 2, "row 2: This row has 3 fields"),
])
def test_invalid_rows_refuse_the_whole_run_with_their_row_numbers(italy, source, list_server, list_targets,
                                                                  document, row, words):
    list_targets(italy, ["kept.example"])
    list_server.publish(document)
    result = plainlist.pull_list(source)
    assert words in result.error and "not applied" in result.error
    assert active(italy) == {"kept.example"}
    source.refresh_from_db()
    assert words in source.last_error and source.last_error_at is not None and source.etag == ""


def test_an_oversized_list_is_refused(italy, source, list_server, settings):
    settings.SITEALERT = {**settings.SITEALERT, "IMPORT_MAX_BYTES": 100}
    list_server.publish(targets(TEN))  # 140 bytes
    result = plainlist.pull_list(source)
    assert "larger than" in result.error and active(italy) == set()
    list_server.publish(targets(TEN[:7]))  # 98 bytes: within the limit
    assert plainlist.pull_list(source).added == 7


def test_a_server_error_is_recorded_and_the_listings_kept(italy, source, list_server):
    list_server.publish(targets(TEN))
    plainlist.pull_list(source)
    source.url = list_server.url("/moved.txt")
    result = plainlist.pull_list(source)
    assert "HTTP 404" in result.error and active(italy) == set(TEN)


def test_redirects_are_followed_and_checked_at_every_hop(italy, source, list_server):
    list_server.publish(targets(TEN))
    list_server.redirects["/moved.txt"] = list_server.url()
    list_server.redirects["/to-loopback.txt"] = list_server.url(host="127.0.0.1")
    source.url = list_server.url("/to-loopback.txt")
    assert "not a public address" in plainlist.pull_list(source).error
    assert active(italy) == set()
    source.url = list_server.url("/moved.txt")
    assert plainlist.pull_list(source).added == 10


@pytest.fixture
def dns_server():
    server = DNSServer(host="127.0.0.1", default_a=None).start()
    yield server
    server.stop()


def test_a_url_resolving_to_a_private_address_is_refused(italy, source, list_server, dns_server, settings):
    dns_server.add("lists.test", a=["10.0.0.7"])
    dns_server.add("good.test", a=[SITE_ADDRESS])
    settings.SITEALERT = {**settings.SITEALERT, "MONITOR_RESOLVERS": [(dns_server.host, dns_server.port)],
                          "MONITOR_DNS_TIMEOUT": 1.0}
    list_server.publish(targets(TEN))
    for url in (list_server.url(host="lists.test"), list_server.url(host="127.0.0.1"),
                list_server.url(host="169.254.169.254")):
        source.url = url
        result = plainlist.pull_list(source)
        assert "not a public address" in result.error, url
    assert list_server.requests == [] and active(italy) == set()
    source.url = list_server.url(host="good.test")  # the same server, through a name the policy allows
    assert plainlist.pull_list(source).added == 10


def test_only_the_contributor_and_operator_staff_see_its_sources(italy, alice, bob, olga, source, list_server,
                                                                 client, login):
    hold_a_run(italy, source, list_server)
    assert client.get(reverse("federation:list_sources")).status_code == 302  # to the sign-in page
    other = login(bob).get(reverse("federation:list_sources"))
    assert other.status_code == 200 and "agcom-list" not in other.content.decode()
    digest = plainlist.held_run(Source.objects.get(pk=source.pk))["digest"]
    assert client.post(reverse("federation:list_run_confirm", args=["agcom-list"]),
                       {"digest": digest}).status_code == 403
    staff = login(olga)
    html = staff.get(reverse("federation:list_sources")).content.decode()
    assert "agcom-list" in html and "site0.example" in html and 'id="confirm-agcom-list"' not in html
    assert staff.post(reverse("federation:list_run_discard", args=["agcom-list"]),
                      {"digest": digest}).status_code == 403
    assert plainlist.held_run(Source.objects.get(pk=source.pk)) is not None


def test_the_page_needs_the_csrf_token(italy, alice, source, list_server):
    from django.test import Client

    hold_a_run(italy, source, list_server)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    digest = plainlist.held_run(Source.objects.get(pk=source.pk))["digest"]
    response = client.post(reverse("federation:list_run_confirm", args=["agcom-list"]), {"digest": digest})
    assert response.status_code == 403 and active(italy) == set(TEN)


def test_the_listings_page_links_to_the_sources_and_tells_of_a_held_run(italy, alice, bob, source, list_server, login):
    client = login(alice)
    assert 'id="list-sources-link"' in client.get(reverse("listings")).content.decode()
    hold_a_run(italy, source, list_server)
    html = client.get(reverse("listings")).content.decode()
    assert 'id="held-list-runs"' in html and "agcom-list" in html
    other = login(bob).get(reverse("listings")).content.decode()
    assert "list-sources-link" not in other and "held-list-runs" not in other
