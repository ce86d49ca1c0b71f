"""The account's e-mail address, as a person and an attacker meet it: sign-up that never says
whether an address is taken (and is throttled on every door), the confirmation link, what an
unconfirmed account may not do, the change of login address (password, link to the new address,
notice to the old one), and the current-password check counted like a log-in."""

import re

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services, tokens
from accounts.models import User
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from notifications.models import EmailDelivery, Notification, NotificationKind

pytestmark = pytest.mark.django_db

STRONG = "a-long-and-unusual-passphrase"
SIGN_UP = {
    "first_name": "Grace",
    "last_name": "Hopper",
    "email": "grace@example.edu",
    "password1": STRONG,
    "password2": STRONG,
    "university": "Yale",
    "course": "Mathematics",
}
API_SIGN_UP = {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.edu", "password": STRONG}
LINK = re.compile(r"https?://[^\s\"<>]+/accounts/email/confirm/([^/\s\"<>]+)/")


def links_to(address: str) -> list[str]:
    """The confirmation tokens in every e-mail sent to this address."""
    found = []
    for message in mail.outbox:
        if address in message.to:
            found += LINK.findall(message.body)
    return found


def mails_to(address: str) -> list:
    return [message for message in mail.outbox if address in message.to]


def bearer(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {services.issue_api_tokens(user=user)['access']}")
    return client


def can_log_in(email: str, password: str) -> bool:
    response = APIClient().post(reverse("api:token_obtain_pair"), {"email": email, "password": password})
    return response.status_code == 200


@pytest.fixture
def sent(django_capture_on_commit_callbacks):
    """Run what a request registers on commit (the e-mails), as a real request would."""

    def run(action, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return action(*args, **kwargs)

    return run


# --- sign-up never reveals whether an address is taken -------------------------------------------


def test_signing_up_with_a_new_or_a_taken_address_gets_the_same_answer_on_the_page(client, sent):
    UserFactory(email="taken@example.edu")

    new = sent(client.post, reverse("accounts:register"), SIGN_UP)
    taken = sent(client.post, reverse("accounts:register"), {**SIGN_UP, "email": "TAKEN@example.edu"})

    assert (new.status_code, new["Location"]) == (taken.status_code, taken["Location"])
    assert new["Location"] == reverse("accounts:register_sent")
    assert "Check your inbox" in client.get(new["Location"]).content.decode()
    assert User.objects.count() == 2  # the new one only


def test_signing_up_with_a_new_or_a_taken_address_gets_the_same_answer_from_the_api(sent):
    UserFactory(email="taken@example.edu")
    api = APIClient()

    new = sent(api.post, reverse("api:register"), API_SIGN_UP, format="json")
    taken = sent(api.post, reverse("api:register"), {**API_SIGN_UP, "email": "taken@example.edu"}, format="json")

    assert new.status_code == taken.status_code == 202
    assert new.json() == taken.json() == {"detail": services.SIGN_UP_SENT_MESSAGE}


def test_the_owner_of_a_taken_address_is_told_once_a_day_and_nothing_else_happens(client, sent):
    owner = UserFactory(email="taken@example.edu")

    for _ in range(3):
        sent(client.post, reverse("accounts:register"), {**SIGN_UP, "email": "taken@example.edu"})

    notices = mails_to("taken@example.edu")
    assert len(notices) == 1
    assert "Someone tried to use your e-mail address" in notices[0].subject
    assert reverse("accounts:password_reset") in notices[0].body and "log in" in notices[0].body
    assert links_to("taken@example.edu") == []
    owner.refresh_from_db()
    assert owner.check_password(DEFAULT_PASSWORD) and owner.first_name != "Grace"


def test_a_new_address_is_created_unconfirmed_and_sent_a_confirmation_link(client, sent):
    sent(client.post, reverse("accounts:register"), SIGN_UP)

    user = User.objects.get(email="grace@example.edu")
    assert user.email_verified_at is None
    assert len(links_to("grace@example.edu")) == 1


def test_sign_up_is_throttled_on_one_counter_for_the_page_and_the_api(client, settings):
    settings.RATELIMIT_SIGN_UP = "3/h"
    api = APIClient()

    assert client.post(reverse("accounts:register"), SIGN_UP).status_code == 302
    assert (
        api.post(reverse("api:register"), {**API_SIGN_UP, "email": "b@example.edu"}, format="json").status_code == 202
    )
    assert client.post(reverse("accounts:register"), {**SIGN_UP, "email": "c@example.edu"}).status_code == 302
    page = client.post(reverse("accounts:register"), {**SIGN_UP, "email": "d@example.edu"})
    rest = api.post(reverse("api:register"), {**API_SIGN_UP, "email": "e@example.edu"}, format="json")

    assert page.status_code == 429 and "Too many sign-ups" in page.content.decode()
    assert int(page["Retry-After"]) > 0
    assert rest.status_code == 429
    assert not User.objects.filter(email__in=["d@example.edu", "e@example.edu"]).exists()


# --- the confirmation link -----------------------------------------------------------------------


def test_following_the_link_confirms_the_address_once(client, sent):
    sent(client.post, reverse("accounts:register"), SIGN_UP)
    [token] = links_to("grace@example.edu")
    target = reverse("accounts:email_confirm", kwargs={"token": token})

    shown = client.get(target)
    shown_again = client.get(target)  # a mail scanner opening the link uses nothing up
    confirmed = client.post(target)
    reused = client.post(target)

    assert shown.status_code == shown_again.status_code == 200 and 'id="confirm-email"' in shown.content.decode()
    assert confirmed.status_code == 302 and confirmed["Location"] == reverse("accounts:login")
    assert reused.status_code == 400 and "not valid any more" in reused.content.decode()
    assert User.objects.get(email="grace@example.edu").is_email_verified


def test_the_api_confirms_with_the_token_once():
    user = UserFactory(email_verified_at=None)
    token = tokens.make_email_token(user=user, purpose=tokens.VERIFY, email=user.email)
    api = APIClient()

    first = api.post(reverse("api:email_confirm"), {"token": token}, format="json")
    second = api.post(reverse("api:email_confirm"), {"token": token}, format="json")

    assert first.status_code == 200 and first.json()["email"] == user.email
    assert second.status_code == 400 and "token" in second.json()["errors"]


@pytest.mark.parametrize("spoil", ["forged", "expired", "other_purpose"])
def test_a_forged_or_expired_link_is_refused_and_changes_nothing(settings, spoil):
    user = UserFactory(email_verified_at=None)
    token = tokens.make_email_token(user=user, purpose=tokens.VERIFY, email=user.email)
    if spoil == "forged":
        token = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    elif spoil == "expired":
        settings.EMAIL_CONFIRMATION_TIMEOUT = -1
    else:  # a verification token does not change the login address, whatever it says
        token = tokens.make_email_token(user=user, purpose=tokens.CHANGE, email="elsewhere@example.edu")

    response = APIClient().post(reverse("api:email_confirm"), {"token": token}, format="json")

    user.refresh_from_db()
    assert response.status_code == 400
    assert user.email_verified_at is None and user.email != "elsewhere@example.edu"


def test_the_link_never_shows_in_the_app_and_the_outbox_forgets_it_once_sent(client, sent):
    sent(client.post, reverse("accounts:register"), SIGN_UP)
    user = User.objects.get(email="grace@example.edu")
    [token] = links_to(user.email)

    in_app = Notification.objects.get(recipient=user, kind=NotificationKind.EMAIL_VERIFY)
    delivery = EmailDelivery.objects.get(notification=in_app)
    client.force_login(user)
    listed = (
        client.get(reverse("api:notification-list")).content.decode() + client.get("/notifications/").content.decode()
    )

    assert token not in in_app.url + in_app.body + in_app.title
    assert token not in listed
    assert delivery.status == EmailDelivery.Status.SENT and delivery.action_url == ""


# --- what an unconfirmed account may do (what it may not: chat, social and helpdesk tests) -------


@pytest.fixture
def newcomer():
    return UserFactory(first_name="Nina", email="nina@example.edu", email_verified_at=None)


def test_an_unconfirmed_account_can_log_in(newcomer):
    assert can_log_in(newcomer.email, DEFAULT_PASSWORD)


def test_pages_show_an_unconfirmed_account_how_to_get_the_link_again(newcomer, client):
    client.force_login(newcomer)
    home = client.get(reverse("home")).content.decode()
    assert 'id="unverified-banner"' in home and reverse("accounts:email_verification_resend") in home


def test_the_link_can_be_sent_again_but_not_in_a_burst(newcomer, sent):
    api = bearer(newcomer)

    first = sent(api.post, reverse("api:me_email_verification"))
    burst = sent(api.post, reverse("api:me_email_verification"))

    assert first.status_code == 202 and len(links_to(newcomer.email)) == 1
    assert burst.status_code == 429 and len(links_to(newcomer.email)) == 1
    assert bearer(UserFactory()).post(reverse("api:me_email_verification")).status_code == 409


# --- changing the login address ----------------------------------------------------------------


@pytest.fixture
def ada():
    return UserFactory(first_name="Ada", email="ada@example.edu")


def ask_change(user, new_email, password=DEFAULT_PASSWORD):
    return bearer(user).post(reverse("api:me_email"), {"email": new_email, "current_password": password}, format="json")


def test_patch_me_with_an_email_changes_nothing(ada):
    response = bearer(ada).patch(reverse("api:me"), {"email": "thief@example.com"}, format="json")
    ada.refresh_from_db()
    assert response.status_code == 400 and ada.email == "ada@example.edu" and ada.pending_email == ""


def test_a_change_needs_the_current_password(ada, sent):
    response = sent(ask_change, ada, "countess@example.edu", password="not-the-password")

    ada.refresh_from_db()
    assert response.status_code == 400 and "current_password" in response.json()["errors"]
    assert ada.pending_email == "" and mail.outbox == []


def test_the_new_address_must_be_proven_and_the_old_one_works_until_then(ada, sent):
    response = sent(ask_change, ada, "Countess@Example.edu")

    ada.refresh_from_db()
    assert response.status_code == 202 and response.json()["pending_email"] == "Countess@example.edu"
    assert (ada.email, ada.pending_email) == ("ada@example.edu", "Countess@example.edu")
    assert can_log_in("ada@example.edu", DEFAULT_PASSWORD)
    # the old address is told, with the way to react
    [notice] = mails_to("ada@example.edu")
    assert "about to change" in notice.subject and "Countess@example.edu" in notice.body
    assert reverse("accounts:password_reset") in notice.body
    # the new address gets the one link
    [token] = links_to("Countess@example.edu")

    confirmed = APIClient().post(reverse("api:email_confirm"), {"token": token}, format="json")
    again = APIClient().post(reverse("api:email_confirm"), {"token": token}, format="json")

    ada.refresh_from_db()
    assert confirmed.status_code == 200 and again.status_code == 400
    assert (ada.email, ada.pending_email, ada.is_email_verified) == ("Countess@example.edu", "", True)
    assert can_log_in("countess@example.edu", DEFAULT_PASSWORD)
    assert not can_log_in("ada@example.edu", DEFAULT_PASSWORD)


def test_the_page_changes_the_address_the_same_way(ada, client, sent):
    client.force_login(ada)

    wrong = sent(
        client.post, reverse("accounts:email"), {"email": "countess@example.edu", "current_password": "nope-nope"}
    )
    right = sent(
        client.post, reverse("accounts:email"), {"email": "countess@example.edu", "current_password": DEFAULT_PASSWORD}
    )
    page = client.get(reverse("accounts:email")).content.decode()
    [token] = links_to("countess@example.edu")
    client.post(reverse("accounts:email_confirm", kwargs={"token": token}))

    assert wrong.status_code == 400 and "entered incorrectly" in wrong.content.decode()
    assert right.status_code == 302 and 'id="pending-email"' in page
    ada.refresh_from_db()
    assert ada.email == "countess@example.edu"


def test_a_newer_request_or_a_password_change_kills_the_pending_link(ada, sent):
    sent(ask_change, ada, "first@example.edu")
    sent(ask_change, ada, "second@example.edu")
    [old_token] = links_to("first@example.edu")
    [new_token] = links_to("second@example.edu")
    ada.refresh_from_db()
    services.change_password(user=ada, new_password="a-brand-new-passphrase")

    for token in (old_token, new_token):
        assert APIClient().post(reverse("api:email_confirm"), {"token": token}, format="json").status_code == 400
    ada.refresh_from_db()
    assert (ada.email, ada.pending_email) == ("ada@example.edu", "")


def test_a_change_to_a_taken_address_answers_the_same_and_sends_no_link(ada, sent):
    UserFactory(email="taken@example.edu")

    response = sent(ask_change, ada, "taken@example.edu")

    assert response.status_code == 202
    assert links_to("taken@example.edu") == []
    assert "Someone tried to use your e-mail address" in mails_to("taken@example.edu")[0].subject


def test_cancelling_a_change_kills_its_link(ada, sent):
    sent(ask_change, ada, "countess@example.edu")
    [token] = links_to("countess@example.edu")

    bearer(ada).delete(reverse("api:me_email"))

    assert APIClient().post(reverse("api:email_confirm"), {"token": token}, format="json").status_code == 400


# --- the current password is guessed no faster than at the login --------------------------------


def test_twelve_wrong_current_passwords_are_not_all_checked_by_the_api(ada, monkeypatch):
    checks = []
    real_check = User.check_password
    monkeypatch.setattr(User, "check_password", lambda self, raw: checks.append(raw) or real_check(self, raw))
    api = bearer(ada)
    body = {"current_password": "wrong", "new_password": "a-brand-new-passphrase"}

    answers = [api.post(reverse("api:password_change"), body, format="json").status_code for _ in range(12)]
    right = api.post(reverse("api:password_change"), {**body, "current_password": DEFAULT_PASSWORD}, format="json")

    limit = django_settings.AXES_FAILURE_LIMIT
    assert answers[: limit - 1] == [400] * (limit - 1)
    assert answers[limit:] == [429] * (12 - limit)
    assert len(checks) <= limit  # past the limit the guesses are not even looked at
    assert right.status_code == 429 and int(right["Retry-After"]) > 0
    ada.refresh_from_db()
    assert ada.check_password(DEFAULT_PASSWORD)


def test_twelve_wrong_current_passwords_lock_the_password_page_too(ada, client):
    client.force_login(ada)
    body = {
        "old_password": "wrong",
        "new_password1": "a-brand-new-passphrase",
        "new_password2": "a-brand-new-passphrase",
    }

    answers = [client.post(reverse("accounts:password_change"), body).status_code for _ in range(12)]
    right = client.post(reverse("accounts:password_change"), {**body, "old_password": DEFAULT_PASSWORD})

    limit = django_settings.AXES_FAILURE_LIMIT
    assert answers[: limit - 1] == [400] * (limit - 1) and answers[limit:] == [429] * (12 - limit)
    assert right.status_code == 429
    ada.refresh_from_db()
    assert ada.check_password(DEFAULT_PASSWORD)


def test_the_email_change_password_shares_the_login_counter(ada):
    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        ask_change(ada, "countess@example.edu", password="wrong")

    locked = ask_change(ada, "countess@example.edu")

    assert locked.status_code == 429
    assert not can_log_in("ada@example.edu", DEFAULT_PASSWORD)  # the same lock as the login's
