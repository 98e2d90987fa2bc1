"""The organization services check their permission themselves, whichever entry point calls them."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied

from sitealert.core.actors import Actor
from sitealert.core.models import AuditEvent
from sitealert.organizations.models import ApiToken, Organization
from sitealert.organizations.services import create_member, create_organization, issue_token, revoke_token


@pytest.mark.django_db
def test_another_organizations_member_can_neither_issue_nor_revoke(alice, italy, korea, korea_token):
    actor = Actor(user=alice, organization=italy)
    with pytest.raises(PermissionDenied):
        issue_token(korea, name="intruder", actor=actor)
    token = ApiToken.objects.get(organization=korea)
    with pytest.raises(PermissionDenied):
        revoke_token(token, actor=actor)
    token.refresh_from_db()
    assert token.revoked_at is None and ApiToken.objects.filter(organization=korea).count() == 1
    assert not AuditEvent.objects.filter(user_id=alice.pk).exists()


@pytest.mark.django_db
def test_operator_staff_revoke_any_organizations_token(olga, operator_org, korea, korea_token):
    token = ApiToken.objects.get(organization=korea)
    revoke_token(token, actor=Actor(user=olga, organization=operator_org))
    token.refresh_from_db()
    assert token.revoked_at is not None


@pytest.mark.django_db
def test_only_the_operator_and_the_command_line_create_organizations_and_accounts(alice, italy):
    actor = Actor(user=alice, organization=italy)
    with pytest.raises(PermissionDenied):
        create_organization(kind="user", name="Shadow Ads", actor=actor)
    with pytest.raises(PermissionDenied):
        create_member(italy, username="mallory", password="x" * 20, actor=actor)
    assert not Organization.objects.filter(name="Shadow Ads").exists()
    assert not get_user_model().objects.filter(username="mallory").exists()
