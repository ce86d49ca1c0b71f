"""deploy/nginx/lyceum.conf: what it promises, how render.py changes it, and `nginx -t` on it."""

import re

import pytest

from tests.deploy.nginx_stack import (
    DEBIAN_NGINX_CONF,
    DEPLOY,
    NGINX,
    SKIP_NO_NGINX,
    debian_main_config,
    load_render_module,
    main_config,
    nginx_test,
    render_site,
)

SHIPPED = (DEPLOY / "nginx" / "lyceum.conf").read_text()
needs_nginx = pytest.mark.skipif(not NGINX.exists(), reason=SKIP_NO_NGINX)


def location_block(text: str, opening: str) -> str:
    """The text of the block that starts with `opening` (braces balanced)."""
    start = text.index(opening)
    depth = 0
    for index in range(text.index("{", start), len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[start : index + 1]
    raise AssertionError(f"unbalanced block {opening!r}")


# --- What the shipped site promises -------------------------------------------------------------


def test_rendering_with_the_defaults_gives_the_shipped_file_unchanged():
    assert load_render_module().render() == SHIPPED


def test_tls_is_modern_only_and_http_redirects_to_https_with_hsts():
    assert re.search(r"^\s*ssl_protocols TLSv1\.2 TLSv1\.3;$", SHIPPED, re.M)
    assert "listen 443 ssl http2 default_server;" in SHIPPED
    assert "return 301 https://lyceum.example.com$request_uri;" in SHIPPED
    hsts = 'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains; preload" always;'
    # Every block with its own add_header repeats HSTS (nginx does not inherit add_header then).
    assert SHIPPED.count(hsts) == 4
    # ... and Django's own copy is hidden wherever nginx proxies over HTTPS.
    assert SHIPPED.count("proxy_hide_header Strict-Transport-Security;") == 2


def test_the_pool_is_least_conn_with_passive_health_checks_on_loopback():
    pool = location_block(SHIPPED, "upstream lyceum_daphne")
    assert "least_conn;" in pool
    servers = re.findall(r"server (\S+) max_fails=3 fail_timeout=10s;", pool)
    assert servers == [f"127.0.0.1:{port}" for port in (8001, 8002, 8003, 8004)]


def test_websocket_location_upgrades_and_keeps_sockets_open_for_an_hour():
    ws = location_block(SHIPPED, "location /ws/")
    assert "proxy_http_version 1.1;" in ws
    assert "proxy_set_header Upgrade $http_upgrade;" in ws
    assert "proxy_set_header Connection $lyceum_connection_upgrade;" in ws
    assert "proxy_read_timeout 1h;" in ws
    assert "proxy_buffering off;" in ws


def test_every_proxied_location_forwards_client_scheme_and_request_id():
    https_server = SHIPPED[SHIPPED.index("listen 443") :]
    for text, opening in (
        (https_server, "location /ws/"),
        (https_server, "location / {"),
        (SHIPPED, "location ~ ^/(healthz|readyz)$"),
    ):
        block = location_block(text, opening)
        assert "proxy_set_header X-Forwarded-For $remote_addr;" in block, opening
        assert "proxy_set_header X-Forwarded-Proto $scheme;" in block, opening
        assert "proxy_set_header X-Request-ID $lyceum_request_id;" in block, opening


def test_static_and_media_are_served_from_disk_and_uploads_are_limited_to_the_app_limit():
    static = location_block(SHIPPED, "location ^~ /static/")
    assert "alias /opt/lyceum/staticfiles/;" in static
    assert 'add_header Cache-Control "public, max-age=31536000, immutable";' in static
    assert "alias /var/lib/lyceum/media/;" in location_block(SHIPPED, "location ^~ /media/")
    # A chat message's 5 files of 10 MB plus the multipart envelope.
    assert "client_max_body_size 51m;" in SHIPPED


def test_request_headers_are_bounded_by_nginx():
    # uvicorn (httptools) sets no limit of its own on header size: nginx is the bound.
    assert "large_client_header_buffers 4 8k;" in SHIPPED


# --- render.py -----------------------------------------------------------------------------------


def test_render_writes_one_server_line_per_daphne_instance():
    text = load_render_module().render(server_name="lyceum.school.example", ports=[9001, 9002])

    pool = location_block(text, "upstream lyceum_daphne")
    assert re.findall(r"server (\S+) max_fails", pool) == ["127.0.0.1:9001", "127.0.0.1:9002"]
    assert "lyceum.example.com" not in text
    assert "server_name lyceum.school.example;" in text
    assert "proxy_set_header Host lyceum.school.example;" in text


def test_render_without_local_media_drops_the_media_location():
    text = load_render_module().render(media_root=None)

    assert "/media/" not in text
    assert "location ^~ /static/" in text


def test_render_refuses_a_template_that_lost_one_of_its_defaults(tmp_path, monkeypatch):
    module = load_render_module()
    broken = tmp_path / "lyceum.conf"
    broken.write_text(SHIPPED.replace("ssl_certificate_key /etc/lyceum/tls/privkey.pem;", ""))
    monkeypatch.setattr(module, "TEMPLATE", broken)

    with pytest.raises(SystemExit, match="ssl_certificate_key"):
        module.render()


def test_render_command_line_prints_the_site(capsys):
    assert load_render_module().main(["--instances", "2", "--first-port", "8101", "--no-local-media"]) == 0

    out = capsys.readouterr().out
    assert "server 127.0.0.1:8101 max_fails" in out
    assert "server 127.0.0.1:8102 max_fails" in out
    assert "server 127.0.0.1:8103" not in out


# --- nginx -t --------------------------------------------------------------------------------------


@needs_nginx
def test_nginx_accepts_the_rendered_site(tmp_path):
    site = render_site(tmp_path / "site", upstream_ports=[18001, 18002], static_root=tmp_path / "static")

    result = nginx_test(main_config(site))

    assert result.returncode == 0, result.stderr
    assert "[emerg]" not in result.stderr and "[warn]" not in result.stderr, result.stderr


@needs_nginx
@pytest.mark.skipif(not DEBIAN_NGINX_CONF.exists(), reason=f"{DEBIAN_NGINX_CONF} is missing")
def test_nginx_accepts_the_site_inside_the_distributions_nginx_conf(tmp_path):
    # sites-enabled/* is included inside Debian's/Ubuntu's http {}: no directive may clash.
    site = render_site(tmp_path / "site", upstream_ports=[18001], static_root=tmp_path / "static")

    result = nginx_test(debian_main_config(site))

    assert result.returncode == 0, result.stderr
    assert "[emerg]" not in result.stderr, result.stderr
