"""A FULLTEXT index on chat_message.body for chat.selectors.search_messages, on MySQL/MariaDB
only (InnoDB FULLTEXT). Other backends (SQLite) keep the LIKE search and get nothing here."""

from django.db import migrations

INDEX = "chat_message_body_ft"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "mysql":
        return
    schema_editor.execute(f"CREATE FULLTEXT INDEX {INDEX} ON chat_message (body)")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "mysql":
        return
    schema_editor.execute(f"DROP INDEX {INDEX} ON chat_message")


class Migration(migrations.Migration):
    # InnoDB builds a FULLTEXT index in its own implicit transaction.
    atomic = False

    dependencies = [("chat", "0002_attachments_changes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
