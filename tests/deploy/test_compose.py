"""docker-compose.yml as `docker compose up --build -d` reads it (there is no Docker engine here):
every documented setting reaches the app containers, the secrets it needs come from `make env`
or a message saying so, and the image serves with proxy headers."""

import json
import re
import subprocess

import pytest
import yaml

from tests.servers import BASE_DIR

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


def test_the_image_serves_with_proxy_headers_and_without_daphnes_plain_access_log():
    cmd = re.search(r"^CMD (\[.*\])$", (BASE_DIR / "Dockerfile").read_text(), re.M).group(1)
    command = json.loads(cmd)

    assert command[0] == "daphne" and command[-1] == "config.asgi:application"
    assert "--proxy-headers" in command
    assert command[command.index("--access-log") + 1] == "/dev/null"
    assert "command" not in COMPOSE["services"]["web"]  # web runs the image's CMD
