"""The contributor's listings page: distinct form ids, keeping the reader's place through a removal,
pagination with first/last and a page jump, numbers in the reader's format, the monitoring link."""

import re
from html.parser import HTMLParser

import pytest

from sitealert.listings.models import Listing
from sitealert.listings.views import PAGE_SIZE


class Elements(HTMLParser):
    """Every start tag of a page, as (tag, attributes)."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.found = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))

    def all(self, tag, **attrs):
        return [a for t, a in self.found if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def qa_targets(italy, list_targets, good=PAGE_SIZE + 5, other=3):
    list_targets(italy, [f"qa-good-{i:03}.example" for i in range(good)])
    list_targets(italy, [f"other-{i:03}.example" for i in range(other)])


def returned_to(body):
    """The return address the page's removal form sends."""
    form = body.split('id="remove-listings-form"', 1)[1].split("</form>", 1)[0]
    return Elements(form).all("input", name="next")[0]["value"]


def listing_id(target):
    return Listing.objects.get(target=target).pk


# 1. Distinct ids

@pytest.mark.django_db
def test_the_add_form_and_the_filter_have_distinct_ids_and_the_labels_point_at_their_own_fields(login, alice):
    body = login(alice).get("/listings/").content.decode()
    ids = re.findall(r'\sid="([^"]+)"', body)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    page = Elements(body)
    [label] = page.all("label", **{"for": "id_filter_category"})
    [select] = page.all("select", id="id_filter_category")
    assert select["name"] == "category"
    assert page.all("select", id="id_category")[0]["name"] == "category"  # the add form's
    assert page.all("input", id="id_filter_q")[0]["name"] == "q"
    assert page.all("select", id="id_filter_status")[0]["name"] == "status"


@pytest.mark.django_db
def test_the_filter_keeps_its_query_string_names(login, alice, italy, list_targets):
    list_targets(italy, ["music-one.example"], category="streaming-music")
    list_targets(italy, ["films.example"])
    body = login(alice).get("/listings/", {"q": "one", "status": "active",
                                           "category": "streaming-music"}).content.decode()
    assert "music-one.example" in body and "films.example" not in body
    page = Elements(body)
    assert page.all("input", id="id_filter_q")[0]["value"] == "one"
    assert 'value="streaming-music" selected' in body


# 2. A removal keeps the reader's place

@pytest.mark.django_db
def test_a_failed_removal_shows_the_same_filtered_page_with_the_selection_and_the_error(login, alice, italy,
                                                                                      list_targets):
    qa_targets(italy, list_targets)
    chosen = listing_id("qa-good-051.example")
    response = login(alice).post("/listings/remove/", {
        "listing": [chosen], "reason": "   ", "next": "/listings/?q=qa-good&page=2"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "This field is required." in body
    assert "qa-good-051.example" in body and "qa-good-001.example" not in body  # page 2 of the filter
    assert "other-000.example" not in body
    assert f'value="{chosen}" id="select-{chosen}" aria-label="Select qa-good-051.example" checked' in body
    assert "55 listings" in body and "Page 2 of 2" in body
    page = Elements(body)
    assert page.all("input", id="id_filter_q")[0]["value"] == "qa-good"
    assert returned_to(body) == "/listings/?q=qa-good&page=2"
    # The page is shown at /listings/remove/: its links go back to the list, not to the form's URL.
    assert 'href="/listings/?q=qa-good&amp;page=1"' in body
    assert page.all("form", **{"class": "page-jump"})[0]["action"] == "/listings/"
    assert Listing.objects.get(pk=chosen).status == Listing.Status.ACTIVE


@pytest.mark.django_db
def test_the_list_page_sends_its_own_place_with_the_removal(login, alice, italy, list_targets):
    qa_targets(italy, list_targets)
    body = login(alice).get("/listings/", {"q": "qa-good", "page": 2}).content.decode()
    assert returned_to(body) == "/listings/?q=qa-good&page=2"


@pytest.mark.django_db
def test_a_removal_returns_to_the_same_filter_and_page(login, alice, italy, list_targets):
    qa_targets(italy, list_targets)
    chosen = listing_id("qa-good-051.example")
    client = login(alice)
    response = client.post("/listings/remove/", {
        "listing": [chosen], "reason": "Court order lifted", "next": "/listings/?q=qa-good&page=2"})
    assert response.status_code == 302
    assert response["Location"] == "/listings/?q=qa-good&page=2"
    assert Listing.objects.get(pk=chosen).status == Listing.Status.REMOVED
    assert "Removed: 1." in client.get(response["Location"]).content.decode()


@pytest.mark.django_db
def test_a_removal_without_a_selection_returns_to_the_same_filter(login, alice, italy, list_targets):
    qa_targets(italy, list_targets)
    response = login(alice).post("/listings/remove/", {"reason": "x", "next": "/listings/?status=active"})
    assert response.status_code == 302 and response["Location"] == "/listings/?status=active"


@pytest.mark.django_db
@pytest.mark.parametrize("next_url", [
    "https://elsewhere.example/listings/?q=a",
    "//elsewhere.example/listings/?q=a",
    "///elsewhere.example/listings/",
    "/\\elsewhere.example/listings/",
    "javascript:alert(1)//listings/",
    "/listings/upload/",
    "/tokens/",
    "",
])
def test_the_return_address_is_only_ever_the_listings_page(login, alice, italy, list_targets, next_url):
    list_targets(italy, ["a.example"])
    client = login(alice)
    response = client.post("/listings/remove/", {"listing": [listing_id("a.example")], "reason": "done",
                                                  "next": next_url})
    assert response.status_code == 302 and response["Location"] == "/listings/"


@pytest.mark.django_db
def test_the_return_address_may_name_this_site_in_full(login, alice, italy, list_targets):
    list_targets(italy, ["a.example"])
    response = login(alice).post("/listings/remove/", {"listing": [listing_id("a.example")], "reason": "done",
                                                        "next": "http://testserver/listings/?q=a.ex"})
    assert response["Location"] == "/listings/?q=a.ex"


# 5. Pagination

@pytest.mark.django_db
def test_pagination_has_first_last_and_a_page_jump_that_keeps_the_filter(login, alice, italy, list_targets):
    list_targets(italy, [f"site{i:03}.example" for i in range(3 * PAGE_SIZE + 1)])
    client = login(alice)
    first = client.get("/listings/", {"q": "site", "status": "active"}).content.decode()
    assert "Page 1 of 4" in first
    assert 'href="?q=site&amp;status=active&amp;page=4"' in first and ">Last<" in first
    assert ">First<" not in first and ">Previous<" not in first
    [jump] = Elements(first).all("form", **{"class": "page-jump"})
    assert "action" not in jump  # this URL, whose query the form's fields replace
    hidden = {(a["name"], a["value"]) for a in Elements(first).all("input", type="hidden")
              if a["name"] in ("q", "status", "category", "page")}
    assert hidden == {("q", "site"), ("status", "active")}
    [number] = Elements(first).all("input", id="page-jump-number")
    assert (number["name"], number["min"], number["max"], number["value"]) == ("page", "1", "4", "1")
    assert Elements(first).all("label", **{"for": "page-jump-number"})

    # What the jump form sends is a plain page request.
    third = client.get("/listings/", {"q": "site", "status": "active", "page": "3"}).content.decode()
    assert "Page 3 of 4" in third and "site100.example" in third
    assert 'href="?q=site&amp;status=active&amp;page=1"' in third and ">First<" in third
    assert 'href="?q=site&amp;status=active&amp;page=4"' in third

    last = client.get("/listings/", {"page": "4"}).content.decode()
    assert ">Last<" not in last and ">Next<" not in last and 'href="?page=1"' in last


@pytest.mark.django_db
@pytest.mark.parametrize("number, shown", [("abc", 1), ("", 1), ("0", 3), ("-2", 3), ("99", 3), ("2.5", 1),
                                           ("2", 2)])
def test_bad_page_numbers_behave_as_before(login, alice, italy, list_targets, number, shown):
    list_targets(italy, [f"site{i:03}.example" for i in range(2 * PAGE_SIZE + 1)])
    response = login(alice).get("/listings/", {"page": number})
    assert response.status_code == 200
    assert f"Page {shown} of 3" in response.content.decode()


@pytest.mark.django_db
def test_the_monitoring_page_uses_the_same_pagination(login, alice, italy, list_targets):
    list_targets(italy, [f"site{i:03}.example" for i in range(PAGE_SIZE + 1)])
    body = login(alice).get("/monitoring/", {"status": "unknown", "page": "2"}).content.decode()
    assert "Page 2 of 2" in body and 'href="?status=unknown&amp;page=1"' in body
    hidden = {(a["name"], a["value"]) for a in Elements(body).all("input", type="hidden")
              if a["name"] in ("status", "page")}
    assert hidden == {("status", "unknown")}


# 6. Numbers in the reader's format

@pytest.mark.django_db
def test_counts_are_written_the_readers_way(login, alice, italy, list_targets):
    list_targets(italy, [f"site{i:04}.example" for i in range(1001)])
    client = login(alice)
    english = client.get("/listings/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "1,001 listings" in english and "Page 1 of 21" in english
    french = client.get("/listings/", {"page": "21"}, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert re.search("1[\u00a0\u202f]001 inscriptions", french)  # a (narrow) no-break space
    # A page number in a link or a form field stays a plain number whatever the language.
    assert 'max="21" value="21"' in french and "page=20" in french


@pytest.mark.django_db
def test_a_single_listing_is_still_singular(login, alice, italy, list_targets):
    list_targets(italy, ["a.example"])
    body = login(alice).get("/listings/").content.decode()
    assert "1 listing<" in body


# 4. The monitoring page in the navigation

def nav(body):
    return body.split('class="site-nav"', 1)[1].split("</nav>", 1)[0]


@pytest.mark.django_db
def test_a_contributor_finds_monitoring_in_the_navigation(login, alice):
    client = login(alice)
    links = Elements(nav(client.get("/listings/").content.decode())).all("a", href="/monitoring/")
    assert links and "aria-current" not in links[0]
    assert Elements(nav(client.get("/monitoring/").content.decode())).all("a", href="/monitoring/")[0][
        "aria-current"] == "page"


@pytest.mark.django_db
def test_monitoring_is_not_offered_to_those_who_may_not_open_it(login, client, carol, olga, italy):
    from sitealert.core.actors import Actor
    from sitealert.organizations.services import create_member
    from tests.conftest import PASSWORD

    assert 'href="/monitoring/"' not in client.get("/").content.decode()
    assert 'href="/monitoring/"' not in login(carol).get("/download/").content.decode()
    # Operator staff holding a contributor's membership see the contributor's links, but may not act as it.
    staff = create_member(italy, username="stefano", password=PASSWORD, email="stefano@example.test",
                          actor=Actor(via="cli"))
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    client = login(staff)
    assert client.get("/monitoring/").status_code == 403
    body = client.get("/").content.decode()
    assert 'href="/listings/"' in body and 'href="/monitoring/"' not in body


@pytest.mark.django_db
def test_adding_a_listing_keeps_the_readers_place_too(login, alice, italy, list_targets):
    qa_targets(italy, list_targets)
    client = login(alice)
    failed = client.post("/listings/add/", {"target": "192.0.2.1", "category": "other",
                                            "next": "/listings/?q=qa-good&page=2"})
    assert failed.status_code == 400
    body = failed.content.decode()
    assert "is an IP address" in body and "qa-good-051.example" in body and "qa-good-001.example" not in body
    added = client.post("/listings/add/", {"target": "fresh.example", "category": "other",
                                           "next": "/listings/?q=qa-good&page=2"})
    assert added.status_code == 302 and added["Location"] == "/listings/?q=qa-good&page=2"
    assert client.post("/listings/add/", {"target": "other.example", "category": "other",
                                          "next": "https://elsewhere.example/"})["Location"] == "/listings/"


@pytest.mark.django_db
def test_a_failed_monitoring_form_links_its_pages_to_the_dashboard(login, alice, italy, list_targets):
    list_targets(italy, [f"site{i:03}.example" for i in range(PAGE_SIZE + 1)])
    response = login(alice).post("/monitoring/stale/", {"action": "nonsense"})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'href="/monitoring/?page=2"' in body
    assert Elements(body).all("form", **{"class": "page-jump"})[0]["action"] == "/monitoring/"
