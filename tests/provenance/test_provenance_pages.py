"""Procedures and statistics show a federated authority as itself, where it decides and where its
page is; nothing offers to edit it."""

import csv
import io

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def listed(italy, bavaria, list_targets, list_federated):
    list_targets(italy, ["pirate.example"])
    list_federated(bavaria, ["stream.example"])
    return bavaria


def test_the_procedures_list_says_where_a_federated_authority_decides(client, listed, italy):
    html = client.get("/procedures/").content.decode()
    row = html[html.index('href="/procedures/bavaria/"'):]
    row = row[:row.index("</tr>")]
    assert ('decides at <a href="https://europe.sitealert.test/procedures/bavaria/" rel="noopener">'
            "<bdi>SiteAlert Europe</bdi></a>") in row
    # Its review requests are counted at its installation, not here.
    assert row.count('<td class="num">—</td>') == 4
    italy_row = html[html.index(f'href="/procedures/{italy.slug}/"'):]
    assert "decides at" not in italy_row[:italy_row.index("</tr>")]


def test_the_procedure_page_links_its_origin_and_its_review_form(client, listed):
    html = client.get("/procedures/bavaria/").content.decode()
    assert 'id="federated-notice"' in html and "This authority decides at <bdi>SiteAlert Europe</bdi>" in html
    assert 'id="origin-link"' in html and 'href="https://europe.sitealert.test/procedures/bavaria/"' in html
    assert "Bayerische Medienaufsicht decides on streaming in DE." in html  # the copied procedure
    reviews = html[html.index('id="reviews-heading"'):]
    assert 'href="https://europe.sitealert.test/review-requests/new/?target="' in reviews
    assert 'href="/review-requests/new/"' not in reviews


def test_the_history_says_where_the_procedure_changes(client, listed):
    html = client.get("/procedures/bavaria/history/").content.decode()
    assert 'id="federated-notice"' in html and 'id="origin-link"' in html


def test_the_procedure_page_offers_no_editing_to_anyone(client, listed, olga):
    from django.contrib.auth import get_user_model

    from sitealert.organizations.models import Membership

    hans = get_user_model().objects.create_user("hans", "hans@example.test", "x")
    Membership.objects.create(user=hans, organization=listed, role=Membership.Role.ADMIN)
    for user in (hans, olga):
        client.force_login(user)
        assert 'id="edit-en"' not in client.get("/procedures/bavaria/").content.decode()


def test_a_local_procedure_page_is_unchanged(client, listed, italy):
    html = client.get(f"/procedures/{italy.slug}/").content.decode()
    assert 'id="federated-notice"' not in html and 'href="/review-requests/new/"' in html


def test_statistics_name_a_federated_authority_and_where_it_decides(client, listed, italy, settings):
    rows = list(csv.reader(io.StringIO(client.get("/statistics/review-outcomes.csv").content.decode())))
    assert rows[0][-1] == "Decides at"
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["Bayerische Medienaufsicht"][1] == "Germany"
    assert by_name["Bayerische Medienaufsicht"][-1] == "SiteAlert Europe"
    assert by_name[italy.name][-1] == settings.SITE_NAME
    html = client.get("/statistics/").content.decode()
    assert "<th scope=\"row\">Bayerische Medienaufsicht</th>" in html and "SiteAlert Europe" in html
