from django.db import migrations


def _alter(schema_editor, table, collation):
    if schema_editor.connection.vendor != "postgresql":
        return
    q = schema_editor.quote_name
    schema_editor.execute(f'ALTER TABLE {q(table)} ALTER COLUMN "target" TYPE varchar(300) COLLATE {q(collation)}')


def code_point_order(apps, schema_editor):
    """On PostgreSQL, the probe targets in code-point order (collation "C"), as the listings' are
    (listings 0004): a contributor's page of listings looks each one's monitoring status up by
    target, and a comparison of two columns takes the collation of the one that is not the
    database's default, which only an index in that collation can answer."""
    _alter(schema_editor, apps.get_model("monitoring", "ProbeTarget")._meta.db_table, "C")


def database_order(apps, schema_editor):
    _alter(schema_editor, apps.get_model("monitoring", "ProbeTarget")._meta.db_table, "default")


class Migration(migrations.Migration):

    dependencies = [
        ("monitoring", "0001_initial"),
        ("listings", "0004_listing_target_code_point_order"),
    ]

    operations = [
        migrations.RunPython(code_point_order, database_order),
    ]
