"""Who is acting: the same description for web, API and CLI requests."""

from dataclasses import dataclass
from typing import Any

from sitealert.core.conf import setting


@dataclass(frozen=True)
class Actor:
    user: Any = None
    organization: Any = None
    token: Any = None
    ip: str | None = None
    via: str = "web"  # web, api, cli, worker, federation (see federation_actor)

    @property
    def scope(self):
        return self.token.scope if self.token is not None else None

    @property
    def is_operator(self):
        """A member (or token) of an approved operator organization. Being Django staff is not enough:
        staff rights come from the organization, so moving an account elsewhere removes them."""
        org = self.organization
        return org is not None and org.is_operator and org.is_active


FEDERATION = "federation"


def federation_actor(organization):
    """The federation pull acting for an authority it brings: the one actor that may change a
    federated authority's listings and procedures (organizations.permissions.can_change_here)."""
    return Actor(organization=organization, via=FEDERATION)


def client_ip(request):
    """The client's address; trusts X-Forwarded-For only behind the configured number of proxies."""
    proxies = setting("TRUSTED_PROXY_COUNT")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR")


def actor_for_request(request, *, token=None, via="web"):
    user = request.user if getattr(request, "user", None) is not None and request.user.is_authenticated else None
    organization = None
    if token is not None:
        organization = token.organization
        user = None
    elif user is not None:
        membership = getattr(user, "membership", None)
        organization = membership.organization if membership is not None else None
    return Actor(user=user, organization=organization, token=token, ip=client_ip(request), via=via)
