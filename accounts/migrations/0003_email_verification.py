import django.utils.timezone
from django.db import migrations, models


def mark_existing_accounts_verified(apps, schema_editor):
    # Every account made before e-mail verification existed keeps working as it did.
    User = apps.get_model("accounts", "User")
    User.objects.filter(email_verified_at__isnull=True).update(email_verified_at=models.F("date_joined"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_user_accounts_first_name_idx_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="email_verified_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="e-mail confirmed at"),
        ),
        migrations.RunPython(mark_existing_accounts_verified, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="user",
            name="email_verified_at",
            field=models.DateTimeField(
                blank=True, default=django.utils.timezone.now, null=True, verbose_name="e-mail confirmed at"
            ),
        ),
        migrations.AddField(
            model_name="user",
            name="pending_email",
            field=models.EmailField(blank=True, max_length=254, verbose_name="new e-mail address, unconfirmed"),
        ),
    ]
