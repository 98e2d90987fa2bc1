"""What other pages and the feed get from monitoring: entry metadata, status badges, the dashboard."""

import pytest
from django.template import Context, Template
from django.urls import reverse

from sitealert.monitoring.metadata import entry_metadata, status_totals, target_statuses
from tests.monitoring import harness as sites


def test_entry_metadata_for_the_feed(italy, list_targets, run_worker, harness):
    harness.http.sites["hopper.test"] = sites.redirect("http://www.next.test/")
    harness.http.sites["www.next.test"] = sites.redirect("http://final.test/")
    harness.dns.nxdomain("gone.test")
    list_targets(italy, ["fine.test", "hopper.test", "gone.test", "android:com.example.app"])
    run_worker()
    data = entry_metadata(["fine.test", "hopper.test", "gone.test", "android:com.example.app"])
    assert data["fine.test"]["status"] == "online" and data["fine.test"]["redirects_to"] == []
    assert data["fine.test"]["checked_at"].endswith("Z") and len(data["fine.test"]["checked_at"]) == 20
    assert data["hopper.test"] == {"status": "online", "checked_at": data["hopper.test"]["checked_at"],
                                   "redirects_to": ["www.next.test", "final.test"]}
    assert data["gone.test"]["status"] == "offline"
    assert data["android:com.example.app"] == {"status": "unknown", "checked_at": None, "redirects_to": []}
    assert status_totals() == {"online": 2, "offline": 1, "unknown": 0}


def test_status_badge_template_tags(italy, list_targets, run_worker, harness):
    harness.dns.nxdomain("down.test")
    list_targets(italy, ["up.test", "down.test"])
    run_worker()
    statuses = target_statuses(["up.test", "down.test"])
    html = Template("{% load monitoring %}{% monitor_status 'up.test' statuses %}|{% monitor_status 'down.test' %}|"
                    "{% monitor_status 'new.test' %}").render(Context({"statuses": statuses}))
    up, down, new = html.split("|")
    assert 'class="badge monitor-online"' in up and "Online" in up
    assert "monitor-offline" in down and "the domain does not exist" in down and "since" in down
    assert "Not checked yet" in new


def test_dashboard_shows_the_contributors_listings_with_their_status(italy, korea, list_targets, run_worker,
                                                                    harness, client, alice):
    harness.dns.nxdomain("down.test")
    list_targets(italy, ["up.test", "down.test", "android:com.example.app"])
    list_targets(korea, ["korean.test"])
    run_worker()
    client.force_login(alice)
    page = client.get(reverse("monitoring:dashboard")).content.decode()
    assert "korean.test" not in page
    assert '<li id="count-online"><strong>1</strong>' in page
    assert '<li id="count-offline"><strong>1</strong>' in page
    assert "Apps are not monitored." in page
    offline_only = client.get(reverse("monitoring:dashboard"), {"status": "offline"}).content.decode()
    table = offline_only.split('id="status-table"')[1]
    assert "down.test" in table and "up.test" not in table


def test_dashboard_is_for_contributors(client, carol, olga):
    assert client.get(reverse("monitoring:dashboard")).status_code == 302
    for person in (carol, olga):
        client.force_login(person)
        assert client.get(reverse("monitoring:dashboard")).status_code == 403


@pytest.mark.django_db
def test_statistics_show_the_share_of_probed_sites_online(client, italy, list_targets):
    from sitealert.monitoring.models import ProbeTarget
    from sitealert.statistics.services import online_share

    assert online_share() is None  # nothing probed yet: no estimate
    list_targets(italy, ["up.example", "down.example"])
    for target, status in (("up.example", "online"), ("down.example", "offline")):
        ProbeTarget.objects.update_or_create(target=target, defaults={"status": status, "active": True})
    assert online_share() == "50%"
    assert "50%" in client.get("/statistics/").content.decode()


@pytest.mark.django_db
def test_users_read_status_and_redirects_through_the_api(client, italy, adco_token, italy_token, list_targets):
    from sitealert.monitoring.models import ProbeTarget

    list_targets(italy, ["up.example", "new.example", "android:com.pirate.app"])
    ProbeTarget.objects.update_or_create(target="up.example", defaults={"status": "online", "active": True})
    response = client.get("/api/v1/feed/monitoring", headers={"Authorization": f"Bearer {adco_token}"})
    assert response.status_code == 200
    entries = {e["target"]: e for e in response.json()["entries"]}
    assert set(entries) == {"up.example", "new.example"}
    assert entries["up.example"]["status"] == "online" and entries["new.example"]["status"] == "unknown"
    assert "redirects_to" in entries["up.example"]
    assert client.get("/api/v1/feed/monitoring").status_code == 401
    assert client.get("/api/v1/feed/monitoring", headers={"Authorization": f"Bearer {italy_token}"}).status_code == 403
