"""Site pages: the public home, the dashboard, error pages and the shared partials.

Every page is served under a strict Content-Security-Policy (style-src 'self', scripts only
with the request's nonce), so these tests also read the HTML for anything the browser would
refuse: style attributes, <style> blocks, inline event handlers, scripts without a nonce.
"""

import re
from html.parser import HTMLParser

import pytest
from django import forms
from django.core.paginator import Paginator
from django.template import loader
from django.test import RequestFactory
from django.urls import reverse

from accounts.tests.factories import UserFactory
from notifications.models import Notification, NotificationKind


class _CspAudit(HTMLParser):
    """Collects what a strict CSP would block, and the nonces the page's scripts carry."""

    def __init__(self) -> None:
        super().__init__()
        self.style_attributes: list[str] = []
        self.style_blocks = 0
        self.event_handlers: list[str] = []
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "style" in attributes:
            self.style_attributes.append(f"<{tag} style={attributes['style']!r}>")
        self.event_handlers += [f"<{tag} {name}>" for name in attributes if name.startswith("on")]
        if tag == "style":
            self.style_blocks += 1
        if tag == "script":
            self.scripts.append(attributes)


def _audit(html: str) -> _CspAudit:
    audit = _CspAudit()
    audit.feed(html)
    return audit


def _csp_nonce(response) -> str:
    header = response.headers["Content-Security-Policy"]
    match = re.search(r"script-src [^;]*'nonce-([^']+)'", header)
    assert match, f"script-src has no nonce: {header}"
    return match.group(1)


def _notify(user, title: str, **fields) -> Notification:
    return Notification.objects.create(recipient=user, kind=NotificationKind.SYSTEM, title=title, **fields)


@pytest.mark.django_db
def test_public_home_renders_with_nothing_a_strict_csp_would_block(client):
    # Given a visitor who is not signed in
    # When they open the home page
    response = client.get(reverse("home"))

    # Then the landing page renders, with no inline styles or handlers, and every script is
    # either a file from /static/ or carries this response's nonce
    assert response.status_code == 200
    html = response.content.decode()
    assert "Find your classmates" in html
    assert reverse("accounts:register") in html
    assert reverse("accounts:login") in html
    audit = _audit(html)
    assert audit.style_attributes == []
    assert audit.style_blocks == 0
    assert audit.event_handlers == []
    nonce = _csp_nonce(response)
    assert audit.scripts, "the page loads Bootstrap and htmx"
    for script in audit.scripts:
        assert script.get("nonce") == nonce or (script.get("src") or "").startswith("/static/"), script


@pytest.mark.django_db
def test_html_responses_carry_a_csp_whose_script_nonce_matches_the_page(client):
    # Given a signed-in student
    user = UserFactory()
    client.force_login(user)

    # When two pages are served
    first = client.get(reverse("home"))
    second = client.get(reverse("home"))

    # Then each has a CSP header with styles from self only and a fresh script nonce that the
    # page's scripts use
    for response in (first, second):
        header = response.headers["Content-Security-Policy"]
        assert "style-src 'self'" in header
        assert "'unsafe-inline'" not in header
        nonce = _csp_nonce(response)
        assert f'nonce="{nonce}"' in response.content.decode()
    assert _csp_nonce(first) != _csp_nonce(second)


@pytest.mark.django_db
def test_dashboard_greets_the_user_and_lists_their_recent_notifications(client):
    # Given a student with notifications, one of them read, and someone else's notification
    user = UserFactory(first_name="Ada", interests="chess, poetry")
    _notify(user, "Your study group has a new member")
    _notify(user, "Welcome aboard", url="/notifications/")
    Notification.objects.filter(title="Welcome aboard").update(read_at="2026-01-01T00:00:00Z")
    _notify(UserFactory(), "Not for Ada")
    client.force_login(user)

    # When they open the home page
    response = client.get(reverse("home"))

    # Then it is their dashboard: greeting, notifications newest first, interests as chips
    html = response.content.decode()
    assert response.status_code == 200
    assert "Hello, Ada" in html
    assert html.index("Welcome aboard") < html.index("Your study group has a new member")
    assert "Not for Ada" not in html
    assert '<li class="chip">chess</li>' in html
    assert '<span class="count">1</span> new' in html
    audit = _audit(html)
    assert audit.style_attributes == []
    assert audit.event_handlers == []
    nonce = _csp_nonce(response)
    for script in audit.scripts:
        assert script.get("nonce") == nonce, script


@pytest.mark.django_db
def test_dashboard_queries_do_not_grow_with_the_number_of_notifications(client, django_assert_num_queries):
    # Given a student with one notification
    user = UserFactory()
    _notify(user, "first")
    client.force_login(user)
    # (the session, the user, the navbar's unread notifications and chats, the expert check for
    # the Queue link, the friend-requests badge, the recent notifications, the recent chats, the
    # next steps)
    with django_assert_num_queries(9):
        client.get(reverse("home"))

    # When they have many more
    for number in range(12):
        _notify(user, f"notification {number}", url=f"/somewhere/{number}/")

    # Then the dashboard still costs the same number of queries
    with django_assert_num_queries(9):
        response = client.get(reverse("home"))
    assert response.content.decode().count('class="notif-item') == 5


@pytest.mark.django_db
def test_dashboard_shows_an_empty_state_when_there_are_no_notifications(client):
    client.force_login(UserFactory())

    response = client.get(reverse("home"))

    assert "You are all caught up" in response.content.decode()


@pytest.mark.django_db
def test_dashboard_nudges_an_incomplete_profile_towards_the_edit_page(client):
    # Given a student with no photo, bio or interests
    client.force_login(UserFactory(bio="", interests=""))

    # When they open the dashboard
    html = client.get(reverse("home")).content.decode()

    # Then they are asked to complete it, with a link to the edit page and a progress meter
    assert "Complete your profile" in html
    assert reverse("accounts:profile_edit") in html
    assert '<progress class="meter mb-3" value="2" max="5"' in html


@pytest.mark.django_db
def test_dashboard_does_not_nudge_a_complete_profile(client):
    user = UserFactory(bio="Maths and engines.", interests="chess", avatar="avatars/x/y.webp")
    client.force_login(user)

    html = client.get(reverse("home")).content.decode()

    assert "Complete your profile" not in html
    assert 'class="avatar avatar-64"' in html


@pytest.mark.django_db
def test_unknown_page_renders_the_branded_404(client):
    response = client.get("/there-is-no-such-page/")

    assert response.status_code == 404
    html = response.content.decode()
    assert "We could not find that page" in html
    assert "css/lyceum.css" in html
    assert 'class="navbar-brand' in html
    assert _audit(html).style_attributes == []


def test_500_page_stands_alone_without_a_request_or_a_database():
    # Django renders 500.html with an empty context when something already failed. This test
    # has no database access: a query while rendering would raise.
    html = loader.get_template("500.html").render({})

    assert "Something went wrong on our side" in html
    assert "css/lyceum.css" in html
    assert "<script" not in html
    assert _audit(html).style_attributes == []


@pytest.mark.django_db
@pytest.mark.parametrize(("template", "text"), [("403.html", "not yours to see"), ("429.html", "Too many attempts")])
def test_error_pages_render_in_the_brand(rf, template, text):
    from django.contrib.auth.models import AnonymousUser

    request = rf.get("/somewhere/")
    request.user = AnonymousUser()
    request.csp_nonce = "n"

    html = loader.render_to_string(template, request=request)

    assert text in html
    assert "error-code" in html


class _SampleForm(forms.Form):
    email = forms.EmailField(help_text="Your university address.")
    course = forms.ChoiceField(choices=[("cs", "Computer science"), ("math", "Mathematics")])
    bio = forms.CharField(required=False, widget=forms.Textarea(attrs={"class": "font-monospace"}))
    terms = forms.BooleanField(label="I agree")
    level = forms.ChoiceField(choices=[("ug", "Undergraduate"), ("pg", "Postgraduate")], widget=forms.RadioSelect)


def _render_field(form, name: str) -> str:
    return loader.render_to_string("partials/form_field.html", {"field": form[name]})


def test_form_field_marks_an_invalid_input_and_shows_its_errors():
    form = _SampleForm(data={"email": "not-an-address"})
    assert not form.is_valid()

    html = _render_field(form, "email")

    assert 'class="form-control is-invalid"' in html
    assert 'aria-invalid="true"' in html
    assert '<div class="invalid-feedback d-block"' in html
    assert "Enter a valid email address." in html
    assert "Your university address." in html
    assert '<label class="form-label" for="id_email">Email</label>' in html


def test_form_field_uses_the_right_bootstrap_control_for_each_widget():
    form = _SampleForm()

    assert 'class="form-select"' in _render_field(form, "course")
    bio = _render_field(form, "bio")
    assert 'class="font-monospace form-control"' in bio
    assert "optional" in bio
    terms = _render_field(form, "terms")
    assert 'class="form-field form-check"' in terms
    assert 'class="form-check-input"' in terms
    level = _render_field(form, "level")
    assert "<fieldset" in level
    assert level.count('class="form-check-input"') == 2


def test_pagination_keeps_the_other_query_parameters():
    request = RequestFactory().get("/notifications/", {"q": "exam", "page": "2"})
    page = Paginator(list(range(100)), 10).page(2)

    html = loader.render_to_string("partials/pagination.html", {"page_obj": page}, request=request)

    assert 'href="?q=exam&amp;page=1"' in html
    assert 'href="?q=exam&amp;page=3"' in html
    assert 'aria-current="page"' in html
    assert "Page 2 of 10" in html


def test_pagination_renders_nothing_for_a_single_page():
    page = Paginator([1, 2], 10).page(1)

    html = loader.render_to_string("partials/pagination.html", {"page_obj": page})

    assert html.strip() == ""


@pytest.mark.django_db
def test_initials_avatar_has_a_stable_colour_class():
    user = UserFactory(first_name="Grace", last_name="Hopper")

    first = loader.render_to_string("partials/avatar.html", {"person": user, "size": 40})
    second = loader.render_to_string("partials/avatar.html", {"person": user, "size": 40})

    assert first == second
    assert re.search(r'class="avatar avatar-initials avatar-40 avatar-tone-[0-7]"', first)
    assert ">GH<" in first


def test_csrf_failure_page_is_branded_and_explains_what_to_do(rf):
    from django.views.csrf import csrf_failure

    response = csrf_failure(rf.post("/accounts/login/"), reason="CSRF token missing.")

    assert response.status_code == 403
    html = response.content.decode()
    assert "That form has expired" in html
    assert "css/lyceum.css" in html


@pytest.mark.django_db
def test_favicon_ico_redirects_to_the_svg_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("img/favicon.svg")
