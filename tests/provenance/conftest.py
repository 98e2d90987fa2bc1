"""Federated authorities as the federation pull brings them: an approved contributor with an origin,
its procedure and its listings, written through the services as the pull's own actor."""

import pytest

EUROPE = "SiteAlert Europe"
EUROPE_URL = "https://europe.sitealert.test"


@pytest.fixture
def federated():
    """federated(name, country, slug) -> a federated authority deciding at SiteAlert Europe."""
    from sitealert.core.actors import Actor, federation_actor
    from sitealert.organizations.services import create_organization
    from sitealert.procedures.services import save_procedure

    def _federated(name="Bayerische Medienaufsicht", country="DE", slug="bavaria"):
        org = create_organization(kind="contributor", name=name, country=country, actor=Actor(via="cli"))
        org.slug = slug
        org.origin = f"5e1f0c2a9d3b4e6f8a7c1d2e3f405162:{slug}"
        org.origin_installation = EUROPE
        org.origin_url = f"{EUROPE_URL}/procedures/{slug}/"
        org.review_url = f"{EUROPE_URL}/review-requests/new/?target={{target}}"
        org.save()
        save_procedure(org, "en", {"description": f"{name} decides on streaming in {country}.",
                                   "contact": "appeals@europe.sitealert.test", "criteria": "Court orders.",
                                   "procedure": "Ask us at our installation.", "appeal": "To the court."},
                       actor=federation_actor(org))
        return org

    return _federated


@pytest.fixture
def bavaria(db, federated):
    return federated()


@pytest.fixture
def list_federated():
    """list_federated(org, targets) -> Report: listings applied as the federation pull applies them."""
    from sitealert.core.actors import federation_actor
    from sitealert.listings.services import EntryInput, submit_entries

    def _list(org, targets, category="streaming-video"):
        report = submit_entries(org, [EntryInput(target=t, category=category, reference="upstream") for t in targets],
                                actor=federation_actor(org))
        assert report.applied, report.as_dict()
        return report

    return _list
