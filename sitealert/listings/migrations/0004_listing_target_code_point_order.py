from django.db import migrations


def _alter(schema_editor, table, collation):
    if schema_editor.connection.vendor != "postgresql":
        return
    q = schema_editor.quote_name
    schema_editor.execute(f'ALTER TABLE {q(table)} ALTER COLUMN "target" TYPE varchar(300) COLLATE {q(collation)}')


def code_point_order(apps, schema_editor):
    """On PostgreSQL, the listings' targets in code-point order (collation "C"), as the feed entries'
    are (feed 0003): the unique (target, contributor) index compares bytes instead of calling the
    database's locale for each of the thirty-odd comparisons a lookup or an insertion makes, and
    staged uploads (also "C") are sorted in the index's own order. At ten million listings a file
    of 666,667 new ones took 1 s less of PostgreSQL's time (docs/benchmarks.md, "listings 0004").

    Equality is the same in every deterministic collation, and a comparison with a column or value
    of the database's default collation takes "C", so lookups by target keep using the index. A
    contributor's listings are now ordered by code point on PostgreSQL, as SQLite orders them. The
    index is rebuilt; the table is not rewritten (3.4 s at 9.3M listings)."""
    _alter(schema_editor, apps.get_model("listings", "Listing")._meta.db_table, "C")


def database_order(apps, schema_editor):
    _alter(schema_editor, apps.get_model("listings", "Listing")._meta.db_table, "default")


class Migration(migrations.Migration):

    dependencies = [
        ("listings", "0003_listing_index_by_target"),
    ]

    operations = [
        migrations.RunPython(code_point_order, database_order),
    ]
