from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from notifications.models import (
    Notification,
    NotificationKind,
    NotificationPreference,
    choosable_kinds,
    email_by_default,
)
from notifications.tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_live_push():
    with mock.patch("live.push.publish") as push:
        yield push


def test_the_list_page_needs_a_login(client):
    response = client.get(reverse("notifications:list"))

    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_the_list_shows_own_notifications_newest_first_with_unread_highlighted(signed_in_client, user, other_user):
    older = NotificationFactory(recipient=user, title="Older one")
    newer = NotificationFactory(recipient=user, title="Newer one")
    NotificationFactory(recipient=other_user, title="Somebody else's")
    Notification.objects.filter(pk=older.pk).update(read_at=older.created_at)

    response = signed_in_client.get(reverse("notifications:list"))

    assert response.status_code == 200
    content = response.content.decode()
    assert content.index("Newer one") < content.index("Older one")
    assertNotContains(response, "Somebody else")
    assert f'id="notification-{newer.pk}" class="list-group-item notification-item' in content
    item_new = content[content.index(f'id="notification-{newer.pk}"') :].split("</li>")[0]
    item_old = content[content.index(f'id="notification-{older.pk}"') :].split("</li>")[0]
    assert "is-unread" in item_new and "Mark read" in item_new
    assert "is-unread" not in item_old and "Mark read" not in item_old
    assertContains(response, "Mark all as read")


def test_opening_the_list_does_not_mark_anything_read(signed_in_client, user):
    NotificationFactory.create_batch(3, recipient=user)

    signed_in_client.get(reverse("notifications:list"))

    assert Notification.objects.filter(read_at__isnull=True).count() == 3


def test_the_list_is_paginated_by_twenty(signed_in_client, user):
    NotificationFactory.create_batch(25, recipient=user)

    first = signed_in_client.get(reverse("notifications:list"))
    second = signed_in_client.get(reverse("notifications:list"), {"page": 2})

    assert len(first.context["page_obj"].object_list) == 20
    assert len(second.context["page_obj"].object_list) == 5


@pytest.mark.parametrize("page", ["abc", "-1", "999", "", "1e9"])
def test_a_bad_page_number_shows_a_page_not_an_error(signed_in_client, user, page):
    NotificationFactory.create_batch(3, recipient=user)

    response = signed_in_client.get(reverse("notifications:list"), {"page": page})

    assert response.status_code == 200


@pytest.mark.parametrize("count", [1, 30])
def test_the_list_page_runs_a_constant_number_of_queries(signed_in_client, user, count, django_assert_num_queries):
    NotificationFactory.create_batch(count, recipient=user)

    # session, user, unread badge, chats badge, expert check, friend-requests badge, page count,
    # page rows, then marking the linkless ones read (they have been shown)
    with django_assert_num_queries(9):
        response = signed_in_client.get(reverse("notifications:list"))

    assert response.status_code == 200


def test_mark_read_with_htmx_swaps_the_item_and_the_badge(signed_in_client, user, _no_live_push):
    notification, _other = NotificationFactory.create_batch(2, recipient=user)

    response = signed_in_client.post(
        reverse("notifications:read", args=[notification.pk]), headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    content = response.content.decode()
    assert f'id="notification-{notification.pk}"' in content
    assert "is-unread" not in content
    assert 'id="notif-badge" hx-swap-oob="true"' in content
    assert ">1</span>" in content
    notification.refresh_from_db()
    assert notification.is_read


def test_mark_read_without_htmx_redirects_back_to_the_list(signed_in_client, user):
    notification = NotificationFactory(recipient=user)

    response = signed_in_client.post(reverse("notifications:read", args=[notification.pk]))

    assertRedirects(response, reverse("notifications:list"), fetch_redirect_response=False)


def test_mark_read_ignores_an_offsite_next(signed_in_client, user):
    notification = NotificationFactory(recipient=user)

    response = signed_in_client.post(
        reverse("notifications:read", args=[notification.pk]), {"next": "https://evil.example/"}
    )

    assert response["Location"] == reverse("notifications:list")


def test_mark_read_needs_post(signed_in_client, user):
    notification = NotificationFactory(recipient=user)

    response = signed_in_client.get(reverse("notifications:read", args=[notification.pk]))

    assert response.status_code == 405
    notification.refresh_from_db()
    assert not notification.is_read


@pytest.mark.parametrize("name", ["notifications:read", "notifications:open"])
def test_another_users_notification_is_404_and_stays_unread(signed_in_client, other_user, name):
    foreign = NotificationFactory(recipient=other_user)

    response = signed_in_client.post(reverse(name, args=[foreign.pk]))

    assert response.status_code == 404
    foreign.refresh_from_db()
    assert not foreign.is_read


@pytest.mark.parametrize("path", ["/notifications/abc/read/", "/notifications/-1/open/", "/notifications/1.5/read/"])
def test_a_non_numeric_id_is_404(signed_in_client, path):
    assert signed_in_client.post(path).status_code == 404


def test_an_id_that_does_not_exist_is_404(signed_in_client):
    assert signed_in_client.post(reverse("notifications:read", args=[99999999])).status_code == 404


@pytest.mark.parametrize("method", ["get", "post"])
def test_opening_a_notification_marks_it_read_and_follows_its_link(signed_in_client, user, method):
    notification = NotificationFactory(recipient=user, url="/accounts/profile/edit/")

    response = getattr(signed_in_client, method)(reverse("notifications:open", args=[notification.pk]))

    assert response.status_code == 302
    assert response["Location"] == "/accounts/profile/edit/"
    notification.refresh_from_db()
    assert notification.is_read


def test_opening_a_notification_without_a_link_goes_to_the_list(signed_in_client, user):
    notification = NotificationFactory(recipient=user, url="")

    response = signed_in_client.get(reverse("notifications:open", args=[notification.pk]))

    assert response["Location"] == reverse("notifications:list")


def test_a_stored_offsite_link_is_never_followed(signed_in_client, user):
    # Stored around notify()'s validation (e.g. by the admin): the redirect still refuses it.
    notification = NotificationFactory(recipient=user, url="//evil.example/")

    response = signed_in_client.get(reverse("notifications:open", args=[notification.pk]))

    assert response["Location"] == reverse("notifications:list")


def test_mark_all_read_marks_only_own_and_says_how_many(signed_in_client, user, other_user):
    NotificationFactory.create_batch(3, recipient=user)
    foreign = NotificationFactory(recipient=other_user)

    response = signed_in_client.post(reverse("notifications:read_all"), follow=True)

    assertContains(response, "Marked 3 notifications as read.")
    assert not Notification.objects.filter(recipient=user, read_at__isnull=True).exists()
    foreign.refresh_from_db()
    assert not foreign.is_read


def test_mark_all_read_with_nothing_unread_says_so(signed_in_client, user):
    response = signed_in_client.post(reverse("notifications:read_all"), follow=True)

    assertContains(response, "You had no unread notifications.")


def test_the_preferences_page_shows_one_checkbox_per_kind_with_defaults(signed_in_client):
    response = signed_in_client.get(reverse("notifications:preferences"))

    assert response.status_code == 200
    for kind in choosable_kinds():
        assertContains(response, NotificationKind(kind).label)
    assert response.content.decode().count('type="checkbox"') == len(choosable_kinds())
    assert response.content.decode().count(" checked") == sum(map(email_by_default, choosable_kinds()))


def test_saving_preferences_turns_unticked_kinds_off(signed_in_client, user):
    response = signed_in_client.post(reverse("notifications:preferences"), {"welcome": "on"}, follow=True)

    assertContains(response, "Your e-mail preferences are saved.")
    assert dict(NotificationPreference.objects.filter(user=user).values_list("kind", "email")) == {
        kind: kind == "welcome" for kind in choosable_kinds()
    }
    assert response.content.decode().count(" checked") == 1


def test_saving_preferences_with_unknown_fields_ignores_them(signed_in_client, user):
    response = signed_in_client.post(reverse("notifications:preferences"), {"bogus": "on", "system": "on"})

    assert response.status_code == 302
    assert set(NotificationPreference.objects.filter(user=user).values_list("kind", flat=True)) == set(
        choosable_kinds()
    )


def test_urls_in_a_body_become_links_and_nothing_else_becomes_markup(signed_in_client, user):
    NotificationFactory(
        recipient=user,
        body="Join at https://lyceum.test/help/meet/42/. Or <script>alert(1)</script> javascript:alert(2)\nbye",
    )

    content = signed_in_client.get(reverse("notifications:list")).content.decode()

    link = '<a href="https://lyceum.test/help/meet/42/" rel="noopener nofollow noreferrer">https://lyceum.test/help/meet/42/</a>.'
    assert link in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content and "<script>alert(1)" not in content
    assert 'href="javascript' not in content
    assert "javascript:alert(2)<br>bye" in content


@pytest.mark.parametrize(
    ("body", "href"),
    [
        ('see https://a.example/x"onmouseover="alert(1) now', "https://a.example/x"),
        ("https://a.example/it's", "https://a.example/it"),
        ("(https://a.example/page)", "https://a.example/page"),
        ("https://a.example/?a=1&b=2", "https://a.example/?a=1&amp;b=2"),
    ],
)
def test_a_link_ends_where_the_url_ends_and_no_quote_escapes_the_href(body, href):
    from notifications.templatetags.notification_tags import linkify

    html = str(linkify(body))

    assert html.count("<a ") == 1 and f'href="{href}"' in html
    assert "onmouseover=" not in html.split(">", 1)[0]


def test_the_new_badge_sits_in_the_same_place_whatever_the_title(signed_in_client, user):
    NotificationFactory(recipient=user, title="Short")
    NotificationFactory(recipient=user, title="A much longer title " * 6)
    NotificationFactory(recipient=user, title="Read one", read_at=timezone.now())

    content = signed_in_client.get(reverse("notifications:list")).content.decode()

    assert content.count('<span class="badge text-bg-primary notification-new">New</span>') == 2
    for item in content.split('class="list-group-item notification-item')[1:]:
        title, rest = item.split('<div class="notification-title">', 1)[1].split("</div>", 1)
        assert "New" not in title  # never beside the title, where its place depends on the length
        if "is-unread" in item.split(">", 1)[0]:
            assert (
                '<small class="text-body-secondary"><span class="badge text-bg-primary notification-new">New</span>'
                in rest
            )
