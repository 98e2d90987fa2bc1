"""A contributor uploads a CSV file in the browser and reads the per-row report."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CSV = (
    "target,category,reference,note\n"
    "https://Streaming-Site.example/watch?v=42,streaming-video,AGCOM 12/26/DDA,seen on 2026-10-01\n"
    "192.0.2.10,cyberlocker,AGCOM 13/26/DDA,\n"
)


def test_contributor_uploads_csv_and_reads_the_row_report(page, log_in, upload_csv, screenshot, alice, italy):
    from sitealert.listings.models import Listing

    log_in("alice")
    report = upload_csv(CSV, "Accept the valid rows even if some rows are rejected")
    expect(report).to_be_visible()
    accepted = report.locator("tbody tr[data-status='accepted']")
    expect(accepted).to_have_count(1)
    expect(accepted.locator("td").nth(0)).to_have_text("2")
    expect(accepted.locator(".target")).to_have_text("streaming-site.example")

    rejected = report.locator("tbody tr[data-status='rejected']")
    expect(rejected).to_have_count(1)
    expect(rejected.locator("td").nth(0)).to_have_text("3")
    expect(rejected).to_contain_text("192.0.2.10")
    expect(rejected.locator("td").nth(4)).to_contain_text("is an IP address; list the site's domain name instead")
    expect(page.locator("#upload-summary")).to_contain_text("version")
    screenshot("upload-report")

    listed = Listing.objects.filter(contributor=italy).values_list("target", "status", "reference")
    assert list(listed) == [("streaming-site.example", "active", "AGCOM 12/26/DDA")]
