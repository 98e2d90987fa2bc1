"""In a real browser, a very long target wraps inside its cell instead of pushing the other columns
of the listings table, or of the upload report, out of view."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LONG = ".".join(["a" * 60, "b" * 60, "c" * 60, "d" * 60]) + ".example"  # 252 characters, no hyphen


def overflows(table_wrap):
    return table_wrap.evaluate("el => el.scrollWidth > el.clientWidth")


def within_the_window(page, locator):
    box = locator.bounding_box()
    return box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]


def test_a_long_target_wraps_and_a_short_one_stays_on_one_line(page, log_in, alice, italy, list_targets):
    list_targets(italy, [LONG, "live-derby-tv.test"])
    from sitealert.listings.models import Listing

    Listing.objects.filter(target="live-derby-tv.test").update(note="seen by our lawyers")
    log_in("alice")
    page.goto("/listings/")
    table = page.locator("#listings-table")
    expect(table.locator("bdi.target", has_text=LONG)).to_be_visible()
    assert not overflows(page.locator(".table-wrap:has(#listings-table)"))
    assert within_the_window(page, table.get_by_text("seen by our lawyers"))
    short = table.locator("bdi.target", has_text="live-derby-tv.test")
    one_line = short.evaluate("el => el.getClientRects().length")
    assert one_line == 1


def test_the_upload_report_wraps_a_long_input(page, log_in, upload_csv, alice, italy):
    log_in("alice")
    report = upload_csv(f"target,category,reference,note\nhttps://{LONG}/watch?v=1,streaming-video,R1,\n"
                        f"192.0.2.10,cyberlocker,R2,\n",
                        "Dry run: check the file and show the report without changing anything")
    expect(report.locator("bdi.target", has_text=LONG)).to_be_visible()
    assert not overflows(page.locator(".table-wrap:has(#upload-report)"))
    assert within_the_window(page, report.get_by_text("is an IP address", exact=False))
