"""docker-compose.yml as `docker compose up --build -d` reads it (there is no Docker engine here):
every documented setting reaches the app containers, the secrets it needs come from `make env`
or a message saying so, and the image runs the systemd unit's uvicorn command line."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.servers import BASE_DIR, unit_command, uvicorn_serve_command

COMPOSE = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
APP_SERVICES = ["web", "worker", "beat", "migrate"]
DOCUMENTED = re.findall(r"^#?([A-Z][A-Z0-9_]+)=", (BASE_DIR / "deploy" / "env.example").read_text(), re.M)
VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?:(:[-?])((?:[^{}]|\{[^{}]*\})*))?\}")


class MissingVariable(Exception):
    pass


def interpolate(value: str, dot_env: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error} (defaults may nest), $$ kept."""

    def substitute(match: re.Match) -> str:
        name, operator, argument = match.groups()
        current = dot_env.get(name, "")
        if current:
            return current
        if operator == ":?":
            raise MissingVariable(f"required variable {name} is missing a value: {argument}")
        return interpolate(argument, dot_env) if operator == ":-" else ""

    return VARIABLE.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


def container_environment(service: str, dot_env: dict[str, str]) -> dict[str, str]:
    """What a service's container gets: env_file's variables, then `environment:` over them."""
    definition = COMPOSE["services"][service]
    env_files = definition.get("env_file", [])
    env_files = [env_files] if isinstance(env_files, str) else env_files
    assert env_files == [".env"], f"{service} does not read .env"
    environment = dict(dot_env)
    for name, value in (definition.get("environment") or {}).items():
        environment[name] = interpolate(str(value), dot_env)
    return environment


def dot_env_from(text: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, re.M))


@pytest.fixture
def dot_env(tmp_path) -> dict[str, str]:
    """The .env `make env` writes."""
    target = tmp_path / ".env"
    subprocess.run([str(BASE_DIR / "scripts" / "new-env"), str(target)], check=True, capture_output=True)
    return dot_env_from(target.read_text())


def test_env_example_documents_settings():
    assert len(DOCUMENTED) > 60


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_variable_in_env_example_reaches_the_app_containers(service, dot_env):
    # Each documented variable set in .env (to a value of its own) must arrive unchanged.
    chosen = {**dot_env, **{name: f"value-of-{name.lower()}" for name in DOCUMENTED if name not in dot_env}}

    environment = container_environment(service, chosen)

    assert {name: environment.get(name) for name in DOCUMENTED} == {name: chosen[name] for name in DOCUMENTED}


def test_with_the_defaults_the_app_containers_use_composes_own_services_and_volumes(dot_env):
    environment = container_environment("web", dot_env)

    assert environment["DJANGO_DEBUG"] == "false"
    assert environment["DATABASE_URL"] == f"mysql://lyceum:{dot_env['MYSQL_PASSWORD']}@mysql:3306/lyceum"
    assert environment["REDIS_URL"] == "redis://redis:6379/0"
    assert environment["MEDIA_ROOT"] == "/app/media"
    assert environment["HELPDESK_DOCUMENT_ROOT"].startswith("/app/private-media/")
    assert environment["CHAT_ATTACHMENT_ROOT"].startswith("/app/private-media/")
    assert environment["LOG_FORMAT"] == "json"
    assert environment["HELPDESK_DOCUMENT_KEYS"] == dot_env["HELPDESK_DOCUMENT_KEYS"]
    volumes = COMPOSE["services"]["web"]["volumes"]
    assert "media:/app/media" in volumes and "private-media:/app/private-media" in volumes


@pytest.mark.parametrize("secret", ["DJANGO_SECRET_KEY", "HELPDESK_DOCUMENT_KEYS", "MYSQL_PASSWORD"])
def test_an_env_example_copied_unchanged_stops_compose_with_a_message_naming_make_env(secret, dot_env):
    copied = {**dot_env, secret: ""}

    with pytest.raises(MissingVariable, match="make env") as refusal:
        for definition in COMPOSE["services"].values():
            for value in (definition.get("environment") or {}).values():
                interpolate(str(value), copied)

    assert secret in str(refusal.value)


def image_command() -> list[str]:
    return json.loads(re.search(r"^CMD (\[.*\])$", (BASE_DIR / "Dockerfile").read_text(), re.M).group(1))


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_the_image_runs_the_systemd_units_uvicorn_command_line_listening_in_the_container():
    # Given the image's command and the systemd unit's, both through deploy/uvicorn-serve
    command = image_command()
    assert command == ["/app/deploy/uvicorn-serve", "0.0.0.0", "8000"]
    assert "command" not in COMPOSE["services"]["web"]  # web runs the image's CMD
    unit_line = next(
        line.removeprefix("ExecStart=")
        for line in (BASE_DIR / "deploy" / "systemd" / "lyceum-uvicorn@.service").read_text().splitlines()
        if line.startswith("ExecStart=")
    )
    assert unit_line.split()[0] == "/opt/lyceum/deploy/uvicorn-serve"

    # When each is expanded (in the image, with compose's FORWARDED_ALLOW_IPS)
    in_image = uvicorn_serve_command(*command[1:], FORWARDED_ALLOW_IPS="172.30.80.0/24")
    under_systemd = unit_command("uvicorn", 8001)

    # Then they differ only where to listen and whom to trust
    assert (option(in_image, "--host"), option(in_image, "--port")) == ("0.0.0.0", "8000")
    assert (option(under_systemd, "--host"), option(under_systemd, "--port")) == ("127.0.0.1", "8001")
    assert option(in_image, "--forwarded-allow-ips") == "172.30.80.0/24"
    assert option(under_systemd, "--forwarded-allow-ips") == "127.0.0.1"
    for argv in (in_image, under_systemd):
        for name in ("--host", "--port", "--forwarded-allow-ips"):
            argv[argv.index(name) : argv.index(name) + 2] = []
    assert in_image == under_systemd
    assert "--workers" not in in_image  # one process per container: scale with replicas
    assert "--proxy-headers" in in_image and "--no-access-log" in in_image
    assert Path(option(in_image, "--log-config")).is_absolute()  # whatever the working directory


def test_the_image_trusts_no_proxy_unless_told_and_compose_trusts_its_own_network(dot_env):
    assert option(uvicorn_serve_command("0.0.0.0", "8000", FORWARDED_ALLOW_IPS=""), "--forwarded-allow-ips") == (
        "127.0.0.1"
    )
    environment = container_environment("web", dot_env)
    subnet = COMPOSE["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert environment["FORWARDED_ALLOW_IPS"] == interpolate(subnet, dot_env) == "172.30.80.0/24"
    assert (
        container_environment("web", {**dot_env, "LYCEUM_NETWORK_SUBNET": "10.9.0.0/24"})["FORWARDED_ALLOW_IPS"]
        == "10.9.0.0/24"
    )


def test_compose_gives_the_web_container_longer_to_stop_than_uvicorns_graceful_shutdown():
    web = COMPOSE["services"]["web"]
    graceful = int(option(unit_command("uvicorn", 8001), "--timeout-graceful-shutdown"))

    assert re.search(r"^STOPSIGNAL SIGTERM$", (BASE_DIR / "Dockerfile").read_text(), re.M)
    assert int(web["stop_grace_period"].removesuffix("s")) > graceful
    assert web["ulimits"]["nofile"]["soft"] >= 65536


def test_worker_and_beat_run_celery_from_the_same_image():
    for service in ("worker", "beat"):
        definition = COMPOSE["services"][service]
        assert definition["image"] == COMPOSE["services"]["web"]["image"]
        assert definition["command"][:3] == ["celery", "-A", "config"], service
    assert "entrypoint" not in COMPOSE["services"]["worker"]
    assert not re.search(r"^ENTRYPOINT", (BASE_DIR / "Dockerfile").read_text(), re.M)
