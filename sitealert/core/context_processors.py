from django.conf import settings

from sitealert.core.conf import setting


def sitealert(request):
    user = getattr(request, "user", None)
    membership = getattr(user, "membership", None) if user is not None and user.is_authenticated else None
    return {
        "SITE_NAME": settings.SITE_NAME,
        "current_organization": membership.organization if membership is not None else None,
        "DEMO_OUTBOX": setting("DEMO_OUTBOX"),
    }
