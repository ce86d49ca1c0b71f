from chat.templatetags.chat_tags import chat_body


def test_html_is_escaped_and_links_are_safe():
    html = chat_body("<script>alert(1)</script> see https://example.org/a?b=1&c=2. or javascript:alert(1)")

    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<a href="https://example.org/a?b=1&amp;c=2" rel="noopener nofollow" target="_blank">' in html
    assert "</a>." in html
    assert 'href="javascript' not in html


def test_a_quote_cannot_break_out_of_the_href():
    html = chat_body('https://evil.example/"onmouseover="alert(1)')

    assert 'href="https://evil.example/"' in html
    assert 'onmouseover="' not in html


def test_mentions_are_highlighted_but_emails_are_not():
    html = chat_body("@bob look at this, mail me at ada@example.org")

    assert '<span class="mention">@bob</span>' in html
    assert "ada@example.org" in html and "@example" not in html.replace("ada@example.org", "")
