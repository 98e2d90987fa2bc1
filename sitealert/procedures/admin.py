"""Operator staff read procedures and their history; only the contributor edits them."""

from django.contrib import admin

from sitealert.organizations.staff import OperatorAdmin
from sitealert.procedures.models import OperatingProcedure, ProcedureRevision


@admin.register(OperatingProcedure)
class OperatingProcedureAdmin(OperatorAdmin):
    """Procedures belong to their contributor; the operator reads them."""

    list_display = ("organization", "language", "updated_at")
    list_filter = ("language",)
    search_fields = ("organization__name",)
    readonly_fields = ("organization", "language", "description", "contact", "criteria", "procedure", "appeal",
                       "updated_at")


@admin.register(ProcedureRevision)
class ProcedureRevisionAdmin(OperatorAdmin):
    list_display = ("organization", "language", "created_at", "author")
    fields = ("organization", "language", *ProcedureRevision.FIELDS, "author", "created_at")
    list_filter = ("language", "organization")
    date_hierarchy = "created_at"
