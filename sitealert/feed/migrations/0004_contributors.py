from django.db import migrations, models

CONTRIBUTORS_HELP = 'Sorted "<organization id>:<category>" of the active listings, comma-separated.'
BATCH = 10_000


def joined_contributors(pairs):
    """The rule of sitealert.listings.changelog.joined_contributors, frozen here as migrations are."""
    return ",".join(sorted({f"{contributor}:{category}" for contributor, category in pairs}))


def fill_contributors(apps, schema_editor):
    """Every entry's contributors as the change-log writer computes them, so the first refresh after
    the upgrade finds no difference and writes no change. An entry is the aggregate of its target's
    active listings: one statement gives each entry its (first) listing's item, which is the whole
    value for a target listed once; the few targets listed more than once are joined in Python."""
    q = schema_editor.quote_name
    entries = q(apps.get_model("feed", "FeedEntry")._meta.db_table)
    listings = q(apps.get_model("listings", "Listing")._meta.db_table)
    item = "CAST(l.contributor_id AS text) || ':' || l.category"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"UPDATE {entries} SET contributors = COALESCE((SELECT {item} FROM {listings} l "
                       f"WHERE l.target = {entries}.target AND l.status = 'active' ORDER BY l.id LIMIT 1), '')")
        cursor.execute(f"SELECT l.target, l.contributor_id, l.category FROM {listings} l WHERE l.status = 'active' "
                       f"AND l.target IN (SELECT target FROM {listings} WHERE status = 'active' GROUP BY target "
                       f"HAVING COUNT(*) > 1) ORDER BY l.target")
        shared = {}
        for target, contributor, category in cursor.fetchall():
            shared.setdefault(target, []).append((contributor, category))
        rows = [(joined_contributors(pairs), target) for target, pairs in shared.items()]
        for start in range(0, len(rows), BATCH):
            cursor.executemany(f"UPDATE {entries} SET contributors = %s WHERE target = %s", rows[start:start + BATCH])


class Migration(migrations.Migration):

    dependencies = [
        ("feed", "0003_feedentry_code_point_covering_key"),
        ("listings", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="change",
            name="contributors",
            field=models.TextField(blank=True, db_default="", help_text=CONTRIBUTORS_HELP, verbose_name="contributors"),
        ),
        migrations.AddField(
            model_name="feedentry",
            name="contributors",
            field=models.TextField(db_default="", help_text=CONTRIBUTORS_HELP, verbose_name="contributors"),
        ),
        migrations.RunPython(fill_contributors, migrations.RunPython.noop),
    ]
