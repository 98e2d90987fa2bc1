"""Operating procedures: public pages per language with a labelled fallback, editing by the
contributor itself, and a kept history."""

import pytest

from sitealert.core.models import AuditEvent
from sitealert.procedures.models import OperatingProcedure, ProcedureRevision

TEXT = {"description": "We are the national authority.", "contact": "desk@agcom.test",
        "criteria": "Commercial-scale infringement.", "procedure": "Decision, notice, appeal within 60 days."}


def publish(org, language, **fields):
    return OperatingProcedure.objects.create(organization=org, language=language, **{**TEXT, **fields})


@pytest.mark.django_db
def test_list_shows_every_contributor_with_languages_and_review_counts(client, italy, korea, adco):
    publish(italy, "en")
    publish(italy, "fr", description="Nous sommes l'autorité.")

    html = client.get("/procedures/").content.decode()

    assert italy.name in html and korea.name in html and adco.name not in html
    assert "English" in html and "Français" in html
    assert "not published yet" in html  # korea


@pytest.mark.django_db
def test_page_in_the_visitors_language(client, italy):
    publish(italy, "en")
    publish(italy, "fr", description="Nous sommes l'autorité nationale.")

    html = client.get(f"/procedures/{italy.slug}/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()

    assert "Nous sommes l&#x27;autorité nationale." in html
    assert 'id="fallback-notice"' not in html
    assert '<div lang="fr" dir="ltr">' in html and "desk@agcom.test" in html


@pytest.mark.django_db
def test_fallback_language_is_labelled(client, italy):
    publish(italy, "en")

    html = client.get(f"/procedures/{italy.slug}/", HTTP_ACCEPT_LANGUAGE="ar").content.decode()

    assert 'id="fallback-notice"' in html
    assert '<div lang="en" dir="ltr"><p>We are the national authority.</p></div>' in html
    assert TEXT["description"] in html


@pytest.mark.django_db
def test_arabic_version_is_marked_right_to_left(client, italy):
    publish(italy, "ar", description="نحن السلطة الوطنية.")

    html = client.get(f"/procedures/{italy.slug}/?lang=ar").content.decode()

    assert '<div lang="ar" dir="rtl"><p>نحن السلطة الوطنية.</p></div>' in html


@pytest.mark.django_db
def test_no_procedure_yet_and_unknown_slugs(client, italy, adco):
    assert "has not published its operating procedure yet" in client.get(f"/procedures/{italy.slug}/").content.decode()
    assert client.get("/procedures/no-such-authority/").status_code == 404
    assert client.get(f"/procedures/{adco.slug}/").status_code == 404  # not a contributor


@pytest.mark.django_db
def test_contributor_edits_its_procedure_and_history_is_kept(client, alice, italy):
    publish(italy, "en")  # published before web editing (demo data, admin)
    client.force_login(alice)
    page = client.get(f"/procedures/{italy.slug}/").content.decode()
    assert f'href="/procedures/{italy.slug}/edit/es/"' in page

    form = client.get(f"/procedures/{italy.slug}/edit/en/").content.decode()
    assert TEXT["criteria"] in form and '<label for="id_criteria">' in form
    response = client.post(f"/procedures/{italy.slug}/edit/en/", {**TEXT, "criteria": "Only commercial scale."})
    assert response.status_code == 302 and response["Location"] == f"/procedures/{italy.slug}/?lang=en"
    client.post(f"/procedures/{italy.slug}/edit/es/", {**TEXT, "description": "Somos la autoridad."})
    client.post(f"/procedures/{italy.slug}/edit/es/", {**TEXT, "description": "Somos la autoridad."})  # no change

    assert OperatingProcedure.objects.get(organization=italy, language="en").criteria == "Only commercial scale."
    assert OperatingProcedure.objects.get(organization=italy, language="es").description == "Somos la autoridad."
    revisions = list(ProcedureRevision.objects.filter(organization=italy).order_by("created_at", "id"))
    assert [(r.language, r.author) for r in revisions] == [("en", None), ("en", alice), ("es", alice)]
    assert revisions[0].criteria == TEXT["criteria"]
    assert AuditEvent.objects.filter(action="procedure.update").count() == 2

    history = client.get(f"/procedures/{italy.slug}/history/").content.decode()
    assert "alice" in history and "published before web editing" in history
    old = client.get(f"/procedures/{italy.slug}/history/{revisions[0].pk}/").content.decode()
    assert TEXT["criteria"] in old


@pytest.mark.django_db
def test_public_history_hides_authors(client, alice, italy):
    client.force_login(alice)
    client.post(f"/procedures/{italy.slug}/edit/en/", TEXT)
    client.logout()

    history = client.get(f"/procedures/{italy.slug}/history/")

    assert history.status_code == 200
    html = history.content.decode()
    assert "View this version" in html and "alice" not in html


@pytest.mark.django_db
def test_edit_requires_all_four_parts(client, alice, italy):
    client.force_login(alice)

    response = client.post(f"/procedures/{italy.slug}/edit/en/", {**TEXT, "contact": ""})

    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert not OperatingProcedure.objects.exists()


@pytest.mark.django_db
def test_only_the_contributor_itself_may_edit(client, bob, carol, olga, italy):
    url = f"/procedures/{italy.slug}/edit/en/"
    anonymous = client.post(url, TEXT)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    for person in (bob, carol, olga):
        client.force_login(person)
        assert client.get(url).status_code == 403
        assert client.post(url, TEXT).status_code == 403
        page = client.get(f"/procedures/{italy.slug}/").content.decode()
        assert f'href="/procedures/{italy.slug}/edit/' not in page
    assert not OperatingProcedure.objects.exists() and not ProcedureRevision.objects.exists()


@pytest.mark.django_db
def test_unknown_language_is_404(client, alice, italy):
    client.force_login(alice)
    assert client.get(f"/procedures/{italy.slug}/edit/de/").status_code == 404


@pytest.mark.django_db
def test_review_counts_on_the_procedure_page(client, alice, italy, list_targets, confirmed_review):
    list_targets(italy, ["pirate.test", "other.test"])
    confirmed_review("pirate.test")
    confirmed_review("other.test", email="second@site.test")
    from sitealert.reviews.models import ReviewCase

    client.force_login(alice)
    case = ReviewCase.objects.get(request__target="pirate.test")
    client.post(f"/review-requests/inbox/{case.pk}/", {"outcome": "removed", "explanation": "Gone."})
    client.logout()

    html = client.get(f"/procedures/{italy.slug}/").content.decode()
    counts = html.split('class="facts review-counts"')[1].split("</dl>")[0]
    assert "<dd>2</dd>" in counts  # received
    assert "<dd>1</dd>" in counts  # removed, awaiting
    assert "<dd>0.0</dd>" in counts  # median days (answered at once)


@pytest.mark.django_db
def test_edit_page_and_old_version_name_their_language(client, alice, italy):
    client.force_login(alice)
    form = client.get(f"/procedures/{italy.slug}/edit/ar/").content.decode()
    assert "Operating procedure in Arabic" in form
    assert '<div lang="ar" dir="rtl">' in form  # Arabic is written right to left in the form too
    client.post(f"/procedures/{italy.slug}/edit/ar/", {**TEXT, "description": "نحن السلطة الوطنية."})
    revision = ProcedureRevision.objects.get(organization=italy, language="ar")

    old = client.get(f"/procedures/{italy.slug}/history/{revision.pk}/").content.decode()

    assert "Version in Arabic of" in old


# --- The fifth field: how to ask for a review or appeal ------------------------------------------

APPEAL = "Ask us for a review at review@agcom.test; appeal to the administrative court within 60 days."


@pytest.mark.django_db
def test_review_and_appeal_is_edited_published_and_kept_in_the_history(client, alice, italy):
    publish(italy, "en")  # four fields, published before the fifth existed
    client.force_login(alice)
    form = client.get(f"/procedures/{italy.slug}/edit/en/").content.decode()
    assert '<label for="id_appeal">' in form

    client.post(f"/procedures/{italy.slug}/edit/en/", {**TEXT, "appeal": APPEAL})

    assert OperatingProcedure.objects.get(organization=italy, language="en").appeal == APPEAL
    first, latest = ProcedureRevision.objects.filter(organization=italy).order_by("created_at", "id")
    assert first.appeal == "" and latest.appeal == APPEAL
    event = AuditEvent.objects.get(action="procedure.update")
    assert event.detail["fields"] == ["appeal"]
    client.logout()
    page = client.get(f"/procedures/{italy.slug}/").content.decode()
    assert 'id="procedure-appeal"' in page and "Review and appeal" in page
    assert '<a href="mailto:review@agcom.test">review@agcom.test</a>' in page
    history = client.get(f"/procedures/{italy.slug}/history/").content.decode()
    changed = history.split("<tbody>")[1].split("</tr>")[0]
    assert "Review and appeal" in changed and "Criteria" not in changed
    assert "appeal to the administrative court within 60 days" in client.get(
        f"/procedures/{italy.slug}/history/{latest.pk}/").content.decode()
    assert 'id="procedure-appeal"' not in client.get(
        f"/procedures/{italy.slug}/history/{first.pk}/").content.decode()


@pytest.mark.django_db
def test_review_and_appeal_is_optional_and_hidden_when_empty(client, alice, italy):
    client.force_login(alice)

    response = client.post(f"/procedures/{italy.slug}/edit/fr/", TEXT)

    assert response.status_code == 302
    assert OperatingProcedure.objects.get(organization=italy, language="fr").appeal == ""
    page = client.get(f"/procedures/{italy.slug}/?lang=fr").content.decode()
    assert TEXT["procedure"] in page and 'id="procedure-appeal"' not in page


@pytest.mark.django_db
def test_review_and_appeal_has_the_length_limit_of_the_other_texts(client, alice, italy):
    client.force_login(alice)

    response = client.post(f"/procedures/{italy.slug}/edit/en/", {**TEXT, "appeal": "x" * 10_001})

    assert response.status_code == 200 and "Ensure this value has at most 10000 characters" in response.content.decode()
    assert not OperatingProcedure.objects.exists()


# --- Finding a procedure ---------------------------------------------------------------------------

def table_of(response):
    html = response.content.decode()
    return html.split('id="procedures-table"')[1].split("</table>")[0] if 'id="procedures-table"' in html else ""


@pytest.fixture
def three_authorities(italy, korea):
    from sitealert.core.actors import Actor
    from sitealert.organizations.services import create_organization

    publish(italy, "en")
    publish(italy, "fr", description="Nous sommes l'autorité italienne.")
    publish(korea, "zh-hans", description="我们是国家主管机关。", criteria="Only live-sports piracy.")
    spain = create_organization(kind="contributor", name="Oficina Española de Derechos", country="ES",
                                actor=Actor(via="cli"))
    return italy, korea, spain


@pytest.mark.django_db
@pytest.mark.parametrize("query, expected", [
    ({"country": "IT"}, {"italy"}),
    ({"country": "kr"}, {"korea"}),  # codes in any case
    ({"language": "fr"}, {"italy"}),
    ({"language": "zh-hans"}, {"korea"}),
    ({"language": "ar"}, set()),
    ({"q": "live-sports"}, {"korea"}),  # a procedure's text
    ({"q": "ITALIENNE"}, {"italy"}),  # any language version, any case
    ({"q": "española"}, {"spain"}),  # the authority's name
    ({"q": "spain"}, {"spain"}),  # the country's name in English
    ({"q": "south korea"}, {"korea"}),  # and the other names people know it by
    ({"q": "  "}, {"italy", "korea", "spain"}),
    ({"q": "national authority", "country": "KR"}, set()),
    ({"q": "national authority", "language": "en"}, {"italy"}),
    ({"q": "zzqqxx-no-such-word"}, set()),
])
def test_search_by_country_language_and_text(client, three_authorities, query, expected):
    italy, korea, spain = three_authorities
    names = {"italy": italy.name, "korea": korea.name, "spain": spain.name}

    table = table_of(client.get("/procedures/", query))

    assert {key for key, name in names.items() if name in table} == expected


@pytest.mark.django_db
def test_search_form_counts_and_clears(client, three_authorities):
    unfiltered = client.get("/procedures/").content.decode()
    assert 'id="procedure-search"' in unfiltered and 'id="procedure-search-count"' not in unfiltered
    assert '<option value="KR">Republic of Korea</option>' in unfiltered

    filtered = client.get("/procedures/", {"country": "IT"}).content.decode()
    assert "1 of 3 authorities" in filtered and 'id="procedure-search-clear"' in filtered
    assert '<option value="IT" selected>Italy</option>' in filtered

    nothing = client.get("/procedures/", {"q": "zzqqxx"}).content.decode()
    assert 'id="procedure-search-empty"' in nothing and "No authority matches this search." in nothing
    assert 'value="zzqqxx"' in nothing and "0 of 3 authorities" in nothing


@pytest.mark.django_db
@pytest.mark.parametrize("query, message", [
    ({"country": "ZZ"}, "No contributing authority on this site is from &#x27;ZZ&#x27;"),
    ({"country": "FR"}, "No contributing authority on this site is from &#x27;FR&#x27;"),  # real, but none here
    ({"language": "de"}, "&#x27;de&#x27; is not one of the languages of this site"),
    ({"language": "<script>"}, "&#x27;&lt;script&gt;&#x27; is not one of the languages of this site"),
])
def test_nonsense_filters_are_named_and_ignored(client, three_authorities, query, message):
    italy, korea, spain = three_authorities

    response = client.get("/procedures/", query)

    html = response.content.decode()
    assert response.status_code == 200 and message in html and 'class="field-error"' in html
    assert all(org.name in table_of(response) for org in (italy, korea, spain))


@pytest.mark.django_db
def test_an_overlong_search_is_refused_with_a_message(client, three_authorities):
    html = client.get("/procedures/", {"q": "x" * 201}).content.decode()
    assert "Ensure this value has at most 200 characters" in html


def test_find_contributors_is_a_service(db, three_authorities):
    from sitealert.organizations.services import public_contributors
    from sitealert.procedures.services import find_contributors

    italy, korea, spain = three_authorities
    found = find_contributors(public_contributors(), language="en", text="NATIONAL")
    assert list(found) == [italy]
