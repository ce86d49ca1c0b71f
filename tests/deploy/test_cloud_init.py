"""deploy/cloud-init.yaml: valid user data whose provisioning script runs and whose settings
are all documented."""

import re
import subprocess

import yaml

from tests.deploy.nginx_stack import DEPLOY

CLOUD_INIT = DEPLOY / "cloud-init.yaml"


def user_data() -> dict:
    return yaml.safe_load(CLOUD_INIT.read_text())


def written_file(path: str) -> str:
    [entry] = [entry for entry in user_data()["write_files"] if entry["path"] == path]
    return entry["content"]


def test_user_data_is_cloud_config_yaml():
    assert CLOUD_INIT.read_text().startswith("#cloud-config\n")
    data = user_data()
    assert {"packages", "users", "write_files", "runcmd"} <= set(data)
    assert {"python3-venv", "nginx", "default-libmysqlclient-dev"} <= set(data["packages"])
    assert any(isinstance(user, dict) and user["name"] == "lyceum" and user["system"] for user in data["users"])
    assert data["runcmd"] == [["/usr/local/sbin/lyceum-provision"]]


def test_provisioning_scripts_are_valid_bash():
    for script in (written_file("/usr/local/sbin/lyceum-provision"), (DEPLOY / "lyceum-manage").read_text()):
        result = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, timeout=10)
        assert result.returncode == 0, result.stderr


def test_provisioning_installs_migrates_collects_and_starts_the_shipped_pieces():
    script = written_file("/usr/local/sbin/lyceum-provision")

    assert '-r "$APP/requirements.txt" -c "$APP/constraints.txt"' in script
    assert "lyceum-manage migrate --noinput" in script
    assert "lyceum-manage collectstatic --noinput" in script
    assert "deploy/nginx/render.py" in script
    assert "nginx -t" in script
    assert 'systemctl enable "lyceum-$LYCEUM_ASGI_SERVER@$port.service"' in script
    # Every file the script installs from the checkout exists in it.
    installed = re.findall(r'"\$APP"?/(deploy/[\w@./-]+)', script)
    assert len(installed) >= 6, installed
    for relative in installed:
        assert (DEPLOY.parent / relative).exists(), relative


def test_the_provisioned_asgi_server_is_uvicorn_or_daphne_and_the_other_is_disabled():
    settings = dict(re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", written_file("/etc/lyceum/provision.env"), re.M))
    script = written_file("/usr/local/sbin/lyceum-provision")

    assert settings["LYCEUM_ASGI_SERVER"] in {"uvicorn", "daphne"}
    assert 'systemctl disable "lyceum-$other@$port.service"' in script
    assert "deploy/systemd/lyceum-uvicorn@.service" in script and "deploy/systemd/lyceum-daphne@.service" in script


def test_every_setting_in_the_env_template_is_documented_in_env_example():
    documented = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", (DEPLOY / "env.example").read_text(), re.M))
    used = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", written_file("/etc/lyceum/lyceum.env"), re.M))

    assert used, "the env template is empty"
    assert used <= documented, f"not in deploy/env.example: {sorted(used - documented)}"


def test_the_env_template_is_production_shaped():
    env = dict(re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", written_file("/etc/lyceum/lyceum.env"), re.M))

    assert env["DJANGO_DEBUG"] == "false"
    assert env["DJANGO_SECRET_KEY"] == "CHANGE_ME"  # the script refuses to run with CHANGE_ME left
    assert env["REDIS_URL"].startswith("rediss://")  # ElastiCache with TLS
    assert env["EMAIL_URL"].startswith("smtp+tls://")
    assert env["SITE_URL"].startswith("https://")
