from django.db import migrations

# What a full document reads of an entry besides its target (sitealert.feed.builder).
DOCUMENT_COLUMNS = ("kind", "countries", "categories", "first_listed_at")


def _names(schema_editor, model):
    q = schema_editor.quote_name
    table = model._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = CAST(%s AS regclass) AND contype = 'p'",
                       [table])
        (constraint,) = cursor.fetchone()
    return q(table), q(constraint)


def code_point_covering_key(apps, schema_editor):
    """On PostgreSQL, the entries' primary key in code-point order (collation "C") and covering what
    a document reads, so a build from scratch is an index-only scan in the documents' order instead
    of a sort of the whole table (at ten million entries the sort spilled to disk and took most of
    a cold build), and the order does not depend on the database's collation.

    Equality is the same in every deterministic collation, and a comparison of this column with
    one of the database's default collation takes "C": lookups of entries and joins are unchanged.
    An index of another table in the default collation cannot answer such a comparison, though:
    look a target up there with a value of that table's own collation, not with this column (feed
    0004 once scanned every listing for each entry that way). SQLite's BINARY collation is
    code-point order already.
    """
    if schema_editor.connection.vendor != "postgresql":
        return
    table, constraint = _names(schema_editor, apps.get_model("feed", "FeedEntry"))
    included = ", ".join(schema_editor.quote_name(c) for c in DOCUMENT_COLUMNS)
    schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}")
    schema_editor.execute(f'ALTER TABLE {table} ALTER COLUMN "target" TYPE varchar(300) COLLATE "C"')
    schema_editor.execute(f'ALTER TABLE {table} ADD CONSTRAINT {constraint} PRIMARY KEY ("target") '
                          f"INCLUDE ({included})")


def database_collation_key(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table, constraint = _names(schema_editor, apps.get_model("feed", "FeedEntry"))
    schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}")
    schema_editor.execute(f'ALTER TABLE {table} ALTER COLUMN "target" TYPE varchar(300) COLLATE "default"')
    schema_editor.execute(f'ALTER TABLE {table} ADD CONSTRAINT {constraint} PRIMARY KEY ("target")')


class Migration(migrations.Migration):

    dependencies = [
        ("feed", "0002_drop_feedentry_like_index"),
    ]

    operations = [
        migrations.RunPython(code_point_covering_key, database_collation_key),
    ]
