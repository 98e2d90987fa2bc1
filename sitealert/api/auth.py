"""Bearer tokens: who is calling, whether they may, and how often.

`TokenAuth(allowed, refusal)` authenticates `Authorization: Bearer <token>` with
`organizations.services.authenticate_token`, counts the call against the token's rate limit and
asks `allowed(actor)` (a check from `organizations.permissions`). The Actor becomes `request.auth`.
"""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from ninja.security import HttpBearer

from sitealert.api.errors import ApiError, authentication_required
from sitealert.core import ratelimit
from sitealert.core.actors import actor_for_request
from sitealert.core.conf import setting
from sitealert.organizations import permissions
from sitealert.organizations.models import ApiToken
from sitealert.organizations.services import authenticate_token


class TokenAuth(HttpBearer):
    def __init__(self, allowed, refusal):
        self.allowed = allowed
        self.refusal = refusal
        super().__init__()

    def __call__(self, request):
        header = request.headers.get("Authorization", "").strip()
        if not header:
            raise authentication_required()
        scheme, _sep, secret = header.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            raise invalid_token(_("The Authorization header must be 'Bearer <token>'."))
        return self.authenticate(request, secret)

    def authenticate(self, request, secret):
        token, reason = authenticate_token(secret)
        if token is None:
            if _belongs_to_unapproved_organization(secret):
                raise ApiError(403, "organization_not_approved", reason)
            raise invalid_token(reason)
        wait = ratelimit.tally("api-token", token.pk, setting("API_RATE"), setting("API_WINDOW"))
        if wait:
            raise ApiError(429, "rate_limited", ngettext(
                "Too many requests with this token. Try again in %(n)d second.",
                "Too many requests with this token. Try again in %(n)d seconds.", wait) % {"n": wait},
                headers={"Retry-After": str(wait)})
        actor = actor_for_request(request, token=token, via="api")
        if not self.allowed(actor):
            raise ApiError(403, "forbidden", self.refusal(actor) if callable(self.refusal) else self.refusal)
        return actor


def invalid_token(reason):
    return ApiError(401, "invalid_token", reason,
                    headers={"WWW-Authenticate": 'Bearer realm="SiteAlert", error="invalid_token"'})


def _belongs_to_unapproved_organization(secret):
    """A live token whose organization is suspended or pending: 403, not 401."""
    if not secret.startswith(ApiToken.PREFIX) or len(secret) > 100:
        return False
    token = ApiToken.objects.select_related("organization").filter(token_hash=ApiToken.hash_secret(secret)).first()
    return token is not None and token.is_usable and not token.organization.is_active


feed_reader = TokenAuth(
    permissions.can_read_feed,
    gettext_lazy("The aggregated list is for authorized users and the operator: use a token with the feed "
                 "scope of an approved user organization."))
LISTINGS_WRITERS_ONLY = gettext_lazy("Only a contributor's token with the listings scope can change listings.")
listings_writer = TokenAuth(
    lambda actor: permissions.can_manage_listings(actor, actor.organization),
    lambda actor: (LISTINGS_WRITERS_ONLY if permissions.can_change_here(actor, actor.organization)
                   else permissions.read_only_reason(actor.organization)))
any_token = TokenAuth(lambda actor: True, "")
