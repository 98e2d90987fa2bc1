from django.db import migrations, models

CONTRIBUTORS_HELP = 'Sorted "<organization id>:<category>" of the active listings, comma-separated.'
BATCH = 10_000


def joined_contributors(pairs):
    """The rule of sitealert.listings.changelog.joined_contributors, frozen here as migrations are."""
    return ",".join(sorted({f"{contributor}:{category}" for contributor, category in pairs}))


class AddColumnInPlace(migrations.AddField):
    """AddField, except that SQLite adds the column in place: ALTER TABLE … ADD COLUMN with the
    constant database default, the column Django's own table copy would create. Django copies the
    whole table for a NOT NULL column on SQLite, and these tables are the aggregated list and its
    change log: tens of millions of rows written only to add a column every row reads as ''."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "sqlite":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.name)
        q = schema_editor.quote_name
        schema_editor.execute(f"ALTER TABLE {q(model._meta.db_table)} ADD COLUMN {q(field.column)} "
                              f"{field.db_type(schema_editor.connection)} DEFAULT '' NOT NULL")


def fill_contributors(apps, schema_editor):
    """Every entry's contributors as the change-log writer computes them, so the first refresh after
    the upgrade finds no difference and writes no change. An entry is the aggregate of its target's
    active listings, and the entries with none keep the column's default, ''.

    Each engine writes every entry once, in memory that does not grow with the list (at ten
    million listings, docs/benchmarks.md): PostgreSQL in one statement that joins the entries
    with their listings grouped by target; SQLite, which cannot order the items of a group, with
    one statement for the targets listed once and a streamed pass over the few listed more often.
    """
    q = schema_editor.quote_name
    entries = q(apps.get_model("feed", "FeedEntry")._meta.db_table)
    listings = q(apps.get_model("listings", "Listing")._meta.db_table)
    connection = schema_editor.connection
    item = "CAST(l.contributor_id AS text) || ':' || l.category"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Memory to group and join in instead of spilling to disk, for this transaction only, as
            # sitealert.core.bulk.analyze gives a large upload. Items sorted in code-point order
            # ("C"), as Python sorts strings; distinct, as a contributor lists a target once at most.
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(
                f"UPDATE {entries} AS e SET contributors = a.contributors FROM (SELECT target, "
                f"string_agg(item, ',' ORDER BY item) AS contributors FROM (SELECT l.target, ({item}) COLLATE \"C\" "
                f"AS item FROM {listings} l WHERE l.status = 'active') AS i GROUP BY target) AS a "
                f"WHERE e.target = a.target")
            return
        cursor.execute(f"UPDATE {entries} SET contributors = COALESCE((SELECT {item} FROM {listings} l "
                       f"WHERE l.target = {entries}.target AND l.status = 'active' ORDER BY l.id LIMIT 1), '')")
        cursor.execute(f"SELECT l.target, l.contributor_id, l.category FROM {listings} l WHERE l.status = 'active' "
                       f"AND l.target IN (SELECT target FROM {listings} WHERE status = 'active' GROUP BY target "
                       f"HAVING COUNT(*) > 1) ORDER BY l.target")
        with connection.cursor() as writer:
            for rows in _shared_values(cursor):
                writer.executemany(f"UPDATE {entries} SET contributors = %s WHERE target = %s", rows)


def _shared_values(cursor):
    """Batches of (contributors, target) from rows (target, contributor id, category) ordered by
    target, read a batch at a time."""
    rows, target, pairs = [], None, []
    while chunk := cursor.fetchmany(BATCH):
        for listed, contributor, category in chunk:
            if listed != target:
                if pairs:
                    rows.append((joined_contributors(pairs), target))
                target, pairs = listed, []
            pairs.append((contributor, category))
        if len(rows) >= BATCH:
            yield rows
            rows = []
    if pairs:
        rows.append((joined_contributors(pairs), target))
    if rows:
        yield rows


class Migration(migrations.Migration):

    dependencies = [
        ("feed", "0003_feedentry_code_point_covering_key"),
        ("listings", "0001_initial"),
    ]

    operations = [
        AddColumnInPlace(
            model_name="change",
            name="contributors",
            field=models.TextField(blank=True, db_default="", help_text=CONTRIBUTORS_HELP, verbose_name="contributors"),
        ),
        AddColumnInPlace(
            model_name="feedentry",
            name="contributors",
            field=models.TextField(db_default="", help_text=CONTRIBUTORS_HELP, verbose_name="contributors"),
        ),
        migrations.RunPython(fill_contributors, migrations.RunPython.noop),
    ]
