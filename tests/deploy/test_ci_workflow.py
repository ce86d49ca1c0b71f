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
