"""Re-encrypt every help-request document with the first HELPDESK_DOCUMENT_KEYS key.

Key rotation (docs/deploy-aws.md, "Rotating secrets"): put a new key first, restart, run this
command, and remove an old key only once this reports nothing left under it. Each document is
rewritten to a new file name, the row is pointed at it, and only then is the old file
deleted, so an interruption never loses a document; running it again continues where it
stopped (documents already under the first key are skipped).
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from helpdesk.models import HelpDocument


class Command(BaseCommand):
    help = "Re-encrypt help-request documents with the first key of HELPDESK_DOCUMENT_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be re-encrypted; change nothing.")

    def handle(self, *args, dry_run: bool = False, **options):
        keys = list(settings.HELPDESK_DOCUMENT_KEYS or [])
        if not keys:
            raise CommandError("HELPDESK_DOCUMENT_KEYS is empty: there is no key to rotate to.")
        try:
            first, every = Fernet(keys[0]), MultiFernet([Fernet(key) for key in keys])
        except (ValueError, TypeError) as exc:
            raise ImproperlyConfigured("HELPDESK_DOCUMENT_KEYS holds a key that is not a Fernet key.") from exc

        current = rotated = unreadable = 0
        for document in HelpDocument.objects.order_by("pk").iterator(chunk_size=200):
            with document.file.open("rb") as stored:
                token = stored.read()
            try:
                first.decrypt(token)
                current += 1
                continue
            except InvalidToken:
                pass
            try:
                fresh = every.rotate(token)
            except InvalidToken:
                unreadable += 1
                self.stderr.write(f"document {document.public_id}: no configured key opens it")
                continue
            if dry_run:
                rotated += 1
                continue
            old_name = document.file.name
            storage = document.file.storage
            new_name = storage.save(old_name, ContentFile(fresh))
            with transaction.atomic():
                HelpDocument.objects.filter(pk=document.pk).update(file=new_name)
            storage.delete(old_name)
            rotated += 1

        verb = "would re-encrypt" if dry_run else "re-encrypted"
        self.stdout.write(f"{verb} {rotated}, already under the first key {current}, unreadable {unreadable}")
        if unreadable:
            raise CommandError(f"{unreadable} document(s) cannot be decrypted with any configured key.")
