"""Second factors of accounts (django-otp): who must have one, which ones an account has, and every
change to them, recorded in the audit log.

The factors are an authenticator app (TOTP, `otp_totp`), passkeys (WebAuthn, `django_otp_webauthn`)
and one-time recovery codes (`otp_static`). The policy, SECOND_FACTOR_REQUIRED, names who must have
one: "staff" (operator staff accounts) and organization kinds ("operator", "contributor", "user").
A member who has lost every device asks the operator, whose reset (`reset_factors`) is audited.
"""

import secrets

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from sitealert.core import audit
from sitealert.core.conf import setting
from sitealert.organizations import permissions
from sitealert.organizations.models import Membership

RECOVERY_CODES = 10
TOTP = "totp"
PASSKEY = "passkey"
RECOVERY = "recovery"
FACTOR_NAMES = {TOTP: _("Authenticator app"), PASSKEY: _("Passkey"), RECOVERY: _("Recovery codes")}


def required_for(user):
    """Whether the policy requires `user` to have a second factor."""
    policy = setting("SECOND_FACTOR_REQUIRED")
    if user.is_staff and "staff" in policy:
        return True
    kinds = Membership.objects.filter(user=user).values_list("organization__kind", flat=True)
    return any(kind in policy for kind in kinds)


def has_factor(user):
    """An authenticator app or a passkey (recovery codes stand in for one, they are not one)."""
    return (TOTPDevice.objects.filter(user=user, confirmed=True).exists()
            or WebAuthnCredential.objects.filter(user=user, confirmed=True).exists())


def factors_of(user):
    """[(kind, device)] of the account's confirmed factors, the recovery codes last."""
    found = [(TOTP, d) for d in TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk")]
    found += [(PASSKEY, d) for d in WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("pk")]
    found += [(RECOVERY, d) for d in StaticDevice.objects.filter(user=user, confirmed=True).order_by("pk")]
    return found


def summary(user):
    """The kinds of factor the account has, in words, for the operator's admin."""
    kinds = [kind for kind, _device in factors_of(user)]
    return ", ".join(f"{FACTOR_NAMES[k]} ×{kinds.count(k)}" if kinds.count(k) > 1 else str(FACTOR_NAMES[k])
                     for k in dict.fromkeys(kinds))


def start_authenticator_app(user):
    """A new, unconfirmed TOTP device for the account to scan; earlier unconfirmed ones are dropped."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=str(FACTOR_NAMES[TOTP]), confirmed=False)


def confirm_authenticator_app(user, device_id, code, *, actor):
    """Confirm the unconfirmed device `device_id` with a code it shows; None if the code is wrong."""
    device = TOTPDevice.objects.filter(user=user, pk=device_id, confirmed=False).first()
    if device is None or not device.verify_token(code.strip().replace(" ", "")):
        return None
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit.record(actor, "account.factor_add", user.get_username(), {"factor": TOTP, "device": device.pk})
    return device


def record_passkey(user, credential, *, actor):
    """A passkey the account has just registered (django_otp_webauthn created it)."""
    audit.record(actor, "account.factor_add", user.get_username(), {"factor": PASSKEY, "device": credential.pk})


def issue_recovery_codes(user, *, actor):
    """New recovery codes for the account, replacing any earlier ones, each usable once; the caller
    shows them once."""
    codes = [secrets.token_hex(5) for _i in range(RECOVERY_CODES)]
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name=str(FACTOR_NAMES[RECOVERY]), confirmed=True)
        StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
        audit.record(actor, "account.recovery_codes", user.get_username(), {"codes": len(codes)})
    return codes


def remove_factor(user, kind, device_id, *, actor):
    """Remove one of the account's own factors; False if it has no such factor."""
    model = {TOTP: TOTPDevice, PASSKEY: WebAuthnCredential}.get(kind)
    if model is None:
        return False
    with transaction.atomic():
        deleted, _rows = model.objects.filter(user=user, pk=device_id).delete()
        if not deleted:
            return False
        if not has_factor(user):
            StaticDevice.objects.filter(user=user).delete()  # recovery codes of no factor
        audit.record(actor, "account.factor_remove", user.get_username(), {"factor": kind, "device": device_id})
    return True


def reset_factors(user, *, actor):
    """The operator's answer to a lost device: every factor of the account removed, so that its next
    sign-in enrols anew. Operator staff only."""
    permissions.require(permissions.can_reset_second_factors(actor))
    with transaction.atomic():
        removed = {TOTP: TOTPDevice.objects.filter(user=user).delete()[0],
                   PASSKEY: WebAuthnCredential.objects.filter(user=user).delete()[0],
                   RECOVERY: StaticDevice.objects.filter(user=user).delete()[0]}
        audit.record(actor, "account.factor_reset", user.get_username(), {"removed": removed})
    return removed


def record_recovery_code_used(user, *, actor):
    """A recovery code was spent: the account has one fewer, and the operator can see when."""
    audit.record(actor, "account.recovery_code_used", user.get_username(), {})
