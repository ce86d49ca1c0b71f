""".github/workflows/ci.yml: valid against the workflow schema and running what .ci/run runs."""

import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.servers import BASE_DIR

WORKFLOW = BASE_DIR / ".github" / "workflows" / "ci.yml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def test_workflow_validates_against_the_github_workflow_schema():
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_runs_every_make_target_ci_run_runs():
    ci_run = set(re.findall(r"^make ([\w-]+)$", (BASE_DIR / ".ci" / "run").read_text(), re.M))
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["checks"]["steps"]
    workflow = {match for step in steps for match in re.findall(r"^make ([\w-]+)$", step.get("run", ""), re.M)}

    assert ci_run, ".ci/run runs no make target?"
    assert ci_run <= workflow, f"missing from ci.yml: {sorted(ci_run - workflow)}"


def test_workflow_has_mysql_and_redis_service_containers_with_health_checks():
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["checks"]

    assert job["services"]["mysql"]["image"] == "mysql:8.4"
    assert job["services"]["redis"]["image"].startswith("redis:7")
    for service in job["services"].values():
        assert "--health-cmd" in service["options"]
    assert job["env"]["SERVICES_DATABASE_URL"] == "mysql://root@127.0.0.1:3306/lyceum"
    assert job["env"]["SERVICES_REDIS_URL"] == "redis://127.0.0.1:6379/0"


def test_ci_run_installs_every_service_it_starts_but_not_the_venvs_build_packages():
    ci_run = (BASE_DIR / ".ci" / "run").read_text()
    install_loop = re.search(r"for package in ([^;]+); do\n  dpkg -s", ci_run).group(1).split()

    assert {"mariadb-server", "redis-server", "chromium", "git", "make"} <= set(install_loop)
    assert "nginx-light" in ci_run
    # The bootstrap brings these back in the fresh clone; CI installing them would hide a gap.
    assert not {"default-libmysqlclient-dev", "pkg-config", "build-essential"} & set(install_loop)


def test_ci_proves_make_run_and_make_test_on_a_fresh_clone_without_headers_or_pip_cache():
    ci_run = (BASE_DIR / ".ci" / "run").read_text()
    fresh = ci_run[ci_run.index("A newcomer's first make run") :]

    assert "apt-get remove" in fresh and "default-libmysqlclient-dev" in fresh
    assert "git clone" in fresh
    assert re.search(r"^PIP_NO_CACHE_DIR=1 .*make run-check$", fresh, re.M)
    assert fresh.index("make run-check") < fresh.index("\nmake test\n")

    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["checks"]["steps"]
    runs = [step.get("run", "") for step in steps]
    removal = next(i for i, run in enumerate(runs) if "apt-get remove" in run)
    run_check = next(i for i, step in enumerate(steps) if step.get("run") == "make run-check")
    assert removal < run_check < runs.index("make test")
    assert steps[run_check]["env"]["PIP_NO_CACHE_DIR"] == "1"
    setup_python = next(step for step in steps if step.get("uses", "").startswith("actions/setup-python"))
    assert "cache" not in setup_python.get("with", {})
