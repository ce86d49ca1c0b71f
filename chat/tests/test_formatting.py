"""chat.formatting.render_body: the one renderer of message bodies (page, socket and API)."""

import pytest
from django.urls import reverse

from chat import realtime, services
from chat.formatting import render_body
from chat.tests.factories import direct_between, send


def test_html_is_escaped_before_anything_is_marked_up():
    html = render_body("<script>alert(1)</script> **<b>x</b>** `<i>`")

    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<strong>&lt;b&gt;x&lt;/b&gt;</strong>" in html
    assert "<code>&lt;i&gt;</code>" in html


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("**bold** and *italics* and _these_", "<strong>bold</strong> and <em>italics</em> and <em>these</em>"),
        ("snake_case_name and 2*3*4 stay", "snake_case_name and 2*3*4 stay"),
        ("** not bold ** and * not * either", "** not bold ** and * not * either"),
        ("run `make test` now", "run <code>make test</code> now"),
        ("`**not bold** @nobody https://x.org`", "<code>**not bold** @nobody https://x.org</code>"),
        ("one\ntwo", "one<br>two"),
        ("@bob look", '<span class="mention">@bob</span> look'),
        ("mail ada@example.org", "mail ada@example.org"),
    ],
)
def test_the_formatting_subset(text, html):
    assert render_body(text) == html


def test_a_code_block_keeps_its_lines_and_is_not_formatted():
    html = render_body("Try:\n```python\ndef f(*args, **kw):\n    return '<ok>'\n```\nthen **run** it")

    assert html == (
        "Try:<pre><code>def f(*args, **kw):\n    return &#x27;&lt;ok&gt;&#x27;</code></pre>then <strong>run</strong> it"
    )


def test_an_unclosed_fence_is_plain_text():
    assert render_body("```oops") == "```oops"


def test_links_are_safe_and_leave_trailing_punctuation_out():
    html = render_body("see https://example.org/a_b_c?d=1&e=2. or javascript:alert(1)")

    assert '<a href="https://example.org/a_b_c?d=1&amp;e=2" rel="noopener nofollow" target="_blank">' in html
    assert "</a>. or javascript:alert(1)" in html
    assert "<em>" not in html


def test_a_quote_cannot_break_out_of_the_href():
    html = render_body('https://evil.example/"onmouseover="alert(1)')

    assert 'href="https://evil.example/"' in html
    assert 'onmouseover="' not in html


def test_emphasis_may_wrap_a_link():
    assert render_body("**see https://x.org**") == (
        '<strong>see <a href="https://x.org" rel="noopener nofollow" target="_blank">https://x.org</a></strong>'
    )


def test_text_cannot_forge_the_renderer_placeholders():
    html = render_body("`a` \x000\x00 https://x.org")

    assert html.count("<code>") == 1
    assert html.count("<a ") == 1
    assert "\x00" not in html


def test_empty_and_missing_bodies_render_empty():
    assert render_body("") == ""
    assert render_body(None) == ""


@pytest.mark.django_db
def test_the_socket_and_api_carry_the_same_rendering_as_the_page(client_of, ada, bob):
    conversation = direct_between(ada, bob)
    message = send(bob, conversation, "**hi** @ada, see https://example.org/x <b>")

    payload = realtime.message_payload(message)
    page = client_of(ada).get(reverse("chat:conversation", args=[conversation.pk])).content.decode()

    assert payload["body_html"] == render_body(message.body)
    assert payload["body_html"] in page


@pytest.mark.django_db
def test_a_deleted_message_has_no_html(ada, bob):
    message = send(ada, direct_between(ada, bob), "oops")
    services.delete_message(user=ada, message_id=message.pk)
    message.refresh_from_db()

    assert realtime.message_payload(message)["body_html"] == ""
