"""A secret in a URL lands in no log line: the request line (lyceum.request) and django.request's
4xx warnings show the path with a reset or confirmation link's token blanked, and no query
string (config.middleware.loggable_path)."""

import json
import logging

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.tests.factories import UserFactory
from config.logging import JsonFormatter, RequestContextFilter
from config.middleware import REDACTED

pytestmark = pytest.mark.django_db


def lines_logged(caplog) -> str:
    """What the console handler writes of the captured records (its filter, then the formatter)."""
    formatter = JsonFormatter()
    for record in caplog.records:
        RequestContextFilter().filter(record)
    return "\n".join(
        [record.getMessage() for record in caplog.records] + [formatter.format(record) for record in caplog.records]
    )


def test_a_password_reset_links_token_is_not_in_the_request_line(client, caplog):
    user = UserFactory()
    token = default_token_generator.make_token(user)
    link = reverse("accounts:password_reset_confirm", args=[urlsafe_base64_encode(force_bytes(user.pk)), token])

    with caplog.at_level(logging.INFO, logger="lyceum.request"):
        answer = client.get(link)

    assert answer.status_code == 302  # Django moves the token into the session, then redirects
    logged = lines_logged(caplog)
    assert token not in logged
    assert REDACTED in logged


def test_an_email_confirmation_token_and_a_query_secret_are_in_no_line_of_a_4xx(client, caplog):
    token = "a-confirmation-token-that-someone-could-use-0123456789"
    link = reverse("accounts:email_confirm", args=[token]) + "?ticket=query-secret-0123456789"

    with caplog.at_level(logging.INFO):
        answer = client.get(link)

    assert answer.status_code >= 400  # not a claim: the page says why, with a 4xx
    logged = lines_logged(caplog)
    assert token not in logged and "query-secret" not in logged
    warnings = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "django.request"]
    assert all(REDACTED in w["message"] for w in warnings)
    assert warnings and all(w["request"].startswith("GET /accounts/email/confirm/") for w in warnings)
