"""Operating procedures: what the public reads, in which language, and every published revision."""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from sitealert.core import audit
from sitealert.core.countries import names_to_search
from sitealert.organizations import permissions
from sitealert.procedures.models import OperatingProcedure, ProcedureRevision

LANGUAGE_CODES = [code for code, _name in settings.LANGUAGES]


@dataclass
class ProcedureView:
    """The procedure to show for a wanted language, and whether it is a fallback."""

    procedure: OperatingProcedure | None
    wanted: str
    available: list  # language codes, in the order of settings.LANGUAGES

    @property
    def is_fallback(self):
        return self.procedure is not None and self.procedure.language != self.wanted


def procedure_for(organization, wanted):
    """The procedure in `wanted`, else in English, else in the first language it exists in."""
    by_language = {p.language: p for p in organization.procedures.all()}
    available = [code for code in LANGUAGE_CODES if code in by_language]
    for code in [wanted, settings.LANGUAGE_CODE, *available]:
        if code in by_language:
            return ProcedureView(by_language[code], wanted, available)
    return ProcedureView(None, wanted, available)


def find_contributors(contributors, *, country="", language="", text=""):
    """The contributors of a queryset that are of `country`, publish their procedure in `language`
    and mention `text` (case-insensitive) in their name, their country's name (in the interface
    language, in English or in ISO's forms) or any field of any language version of their procedure."""
    if country:
        contributors = contributors.filter(country=country.upper())
    if language:
        contributors = contributors.filter(procedures__language=language)
    text = " ".join(text.split())
    if text:
        folded = text.casefold()
        countries = [code for code in set(contributors.values_list("country", flat=True))
                     if any(folded in name.casefold() for name in names_to_search(code))]
        match = Q(name__icontains=text) | Q(country__in=countries)
        for name in ProcedureRevision.FIELDS:
            match |= Q(**{f"procedures__{name}__icontains": text})
        contributors = contributors.filter(match)
    return contributors.distinct()


def save_procedure(organization, language, data, *, actor):
    """Publish a new version of `organization`'s procedure in `language`; keeps every version.

    Returns the new revision, or None when nothing changed."""
    permissions.require(permissions.can_edit_procedure(actor, organization), permissions.why_not(actor))
    if language not in LANGUAGE_CODES:
        raise ValueError(f"unknown language {language!r}")
    values = {name: (data.get(name) or "").strip() for name in ProcedureRevision.FIELDS}
    with transaction.atomic():
        current = (OperatingProcedure.objects.select_for_update()
                   .filter(organization=organization, language=language).first())
        if current is not None and all(getattr(current, k) == v for k, v in values.items()):
            return None
        now = timezone.now()
        history = ProcedureRevision.objects.filter(organization=organization, language=language)
        if current is not None and not history.exists():
            # A version published before web editing (demo data, admin): keep it as the first revision.
            ProcedureRevision.objects.create(organization=organization, language=language, author=None,
                                             created_at=current.updated_at,
                                             **{k: getattr(current, k) for k in ProcedureRevision.FIELDS})
        OperatingProcedure.objects.update_or_create(organization=organization, language=language,
                                                    defaults={**values, "updated_at": now})
        revision = ProcedureRevision.objects.create(organization=organization, language=language,
                                                    author=actor.user, created_at=now, **values)
        audit.record(actor, "procedure.update", organization.slug, {
            "language": language, "revision": revision.pk,
            "fields": sorted(k for k, v in values.items() if current is None or getattr(current, k) != v)})
    return revision


def procedure_history(organization):
    """Revisions newest first, each with `.changed`: the fields that differ from the version before."""
    revisions = list(ProcedureRevision.objects.filter(organization=organization).select_related("author"))
    previous = {}
    for revision in reversed(revisions):
        before = previous.get(revision.language)
        revision.changed = [name for name in ProcedureRevision.FIELDS
                            if before is None or getattr(before, name) != getattr(revision, name)]
        previous[revision.language] = revision
    return revisions
