from django.db import migrations


def _like_index(schema_editor, model):
    return schema_editor._create_index_name(model._meta.db_table, ["target"], suffix="_like")


def drop_like_index(apps, schema_editor):
    """PostgreSQL gives a varchar primary key a second, varchar_pattern_ops index for LIKE 'x%'.
    Nothing searches feed entries by prefix, and the index cost a million-row upload 2 s.

    A migration of its own: CreateModel creates that index in SQL deferred to the end of its
    migration, so a drop in the same migration runs first and finds nothing to drop.
    """
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("feed", "FeedEntry")
    schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(_like_index(schema_editor, model))}")


def create_like_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("feed", "FeedEntry")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {schema_editor.quote_name(_like_index(schema_editor, model))} "
        f"ON {schema_editor.quote_name(model._meta.db_table)} (target varchar_pattern_ops)")


class Migration(migrations.Migration):

    dependencies = [
        ("feed", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(drop_like_index, create_like_index),
    ]
