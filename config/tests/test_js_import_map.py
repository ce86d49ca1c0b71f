"""The import map of the site's ES modules (config.templatetags_ui.js_import_map)."""

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse

from accounts.tests.factories import UserFactory
from config.templatetags_ui import js_import_map


def test_every_module_under_static_js_is_mapped_to_its_storage_url():
    imports = json.loads(js_import_map())["imports"]
    modules = sorted(
        f"js/{path.relative_to(Path(settings.BASE_DIR) / 'static' / 'js').as_posix()}"
        for path in (Path(settings.BASE_DIR) / "static" / "js").rglob("*.js")
    )

    assert "js/chat/protocol.js" in modules and "js/live.js" in modules
    assert imports == {f"{settings.STATIC_URL}{name}": static(name) for name in modules}


def test_the_map_cannot_close_its_script_element():
    assert "<" not in js_import_map()


@pytest.mark.django_db
def test_signed_in_pages_declare_the_map_before_any_module(client):
    client.force_login(UserFactory())

    html = client.get(reverse("chat:list")).content.decode()

    importmap = html.index('<script type="importmap" nonce="')
    assert importmap < html.index('<script type="module"')
