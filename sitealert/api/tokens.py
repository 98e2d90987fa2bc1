"""GET /token: what the token in use is allowed to do (for clients checking their setup)."""

from ninja import Router

from sitealert.api.auth import any_token
from sitealert.api.schemas import ERRORS, TokenInfo
from sitealert.organizations import permissions

router = Router(tags=["tokens"], auth=any_token)


@router.get(
    "/token",
    response={200: TokenInfo, **ERRORS},
    summary="Describe the token in use",
    description="The organization and scope of the bearer token, when it expires and what it may do.",
)
def token(request):
    actor = request.auth
    org, token = actor.organization, actor.token
    return {
        "organization": {"slug": org.slug, "name": org.name, "kind": org.kind, "country": org.country},
        "scope": token.scope,
        "hint": token.hint,
        "expires_at": token.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") if token.expires_at else None,
        "may_read_feed": permissions.can_read_feed(actor),
        "may_manage_listings": permissions.can_manage_listings(actor, org),
    }
