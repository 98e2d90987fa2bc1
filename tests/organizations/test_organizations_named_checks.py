"""The named checks that views, the API, the CLI and the admin share answer as each page expects."""

import pytest

from sitealert.core.actors import Actor
from sitealert.listings.models import Listing
from sitealert.organizations import permissions
from sitealert.organizations.models import ApiToken


def member(user):
    return Actor(user=user, organization=user.membership.organization)


@pytest.mark.django_db
def test_private_notes_are_for_their_contributor_and_the_operator(alice, bob, carol, olga, italy):
    assert permissions.can_see_private_notes(member(alice), italy)
    assert permissions.can_see_private_notes(member(olga), italy)
    assert not permissions.can_see_private_notes(member(bob), italy)
    assert not permissions.can_see_private_notes(member(carol), italy)
    assert not permissions.can_see_private_notes(Actor(), italy)


@pytest.mark.django_db
def test_a_redirect_graph_is_for_the_operator_and_the_contributors_that_list_the_target(
        alice, bob, carol, olga, italy, operator_org, list_targets):
    list_targets(italy, ["films.example"])
    listings = Listing.objects.filter(target="films.example")
    assert permissions.can_see_redirects(member(alice), listings)
    assert permissions.can_see_redirects(member(olga), listings)
    assert not permissions.can_see_redirects(member(bob), listings)
    assert not permissions.can_see_redirects(member(carol), listings)
    operator_token = ApiToken.issue(operator_org, ApiToken.Scope.FEED)[0]
    assert not permissions.can_see_redirects(Actor(organization=operator_org, token=operator_token), listings)


@pytest.mark.django_db
def test_the_admin_site_is_for_operator_staff_only(alice, olga, operator_org):
    assert permissions.can_use_admin(member(olga))
    assert not permissions.can_use_admin(member(alice))
    alice.is_staff = True  # staff rights come from the organization, not from the flag alone
    assert not permissions.can_use_admin(member(alice))
    olga.is_active = False
    assert not permissions.can_use_admin(member(olga))


@pytest.mark.django_db
def test_operator_tasks_are_for_operator_staff_and_the_command_line(alice, olga):
    assert permissions.can_administer(member(olga))
    assert permissions.can_administer(Actor(via="cli"))
    assert not permissions.can_administer(member(alice))
    assert not permissions.can_administer(Actor(via="api"))
