"""The operator's dashboard: the admin site's home page opens with what waits for operator staff."""

from django.contrib import admin
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from sitealert.core.admin import is_operator_staff
from sitealert.listings.models import Listing
from sitealert.organizations.models import Organization
from sitealert.reviews.models import ReviewCase

admin.site.index_template = "admin/sitealert/index.html"


def waiting_work(request):
    """What waits for operator staff, as (label, count, changelist address) with a count above zero.

    Organizations to approve, listings held for review (of a protected target), and review
    cases past their due date: the contributor has not answered in time, the operator follows up.
    """
    from sitealert.listings.models import Listing
    from sitealert.organizations.models import Organization
    from sitealert.reviews.models import ReviewCase

    if not is_operator_staff(request):
        return []
    work = [
        (_("Organizations awaiting approval"), Organization.objects.filter(status=Organization.Status.PENDING),
         "admin:organizations_organization_changelist", "status__exact=pending"),
        (_("Listings held for review"), Listing.objects.filter(status=Listing.Status.HELD),
         "admin:listings_listing_changelist", "status__exact=held"),
        (_("Review cases past their due date"), ReviewCase.overdue(),
         "admin:reviews_reviewcase_changelist", "overdue=yes"),
    ]
    return [(label, count, f"{reverse(url)}?{query}") for label, queryset, url, query in work
            if (count := queryset.count())]
