"""A sandbox for running scripts/ as a newcomer's machine would: a fake HOME, and a PATH of stub
commands plus a few real tools, so nothing of this machine's own Pythons, compilers or package
managers is seen unless a test puts it there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.servers import BASE_DIR

# Real tools the scripts use; everything else on PATH is a stub a test writes.
TOOLS = [
    *("bash", "env", "sed", "sort", "mktemp", "rm", "cat", "dirname", "tr", "head", "seq", "printf", "od"),
    *("chmod", "touch", "sleep", "base64", "grep"),
]


@dataclass
class Sandbox:
    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def calls(self) -> Path:
        return self.root / "calls.log"

    def stub(self, name: str, body: str, directory: Path | None = None) -> Path:
        """A command that logs its arguments to calls.log, then runs `body` (bash)."""
        directory = directory or self.bin
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / name
        path.write_text(f'#!{shutil.which("bash")}\necho "{name} $*" >> "{self.calls}"\n{body}\n')
        path.chmod(0o755)
        return path

    def python(
        self,
        name: str,
        version: str,
        directory: Path | None = None,
        base_prefix: str = "/opt/py",
        headers: bool = True,
        ensurepip: bool = True,
    ) -> Path:
        """A fake Python that answers the scripts' probes as that version would."""
        major, minor = version.split(".")[:2]
        ok = "0" if (int(major), int(minor)) >= (3, 12) else "1"
        return self.stub(
            name,
            f"""
case "$*" in
  *version_info\\ \\>=*) exit {ok} ;;
  *version_info\\[:2\\]*) echo {major}.{minor} ;;
  *base_prefix*) echo {base_prefix} ;;
  *Python.h*) exit {0 if headers else 1} ;;
  *ensurepip*) exit {0 if ensurepip else 1} ;;
  *) exit 0 ;;
esac""",
            directory,
        )

    def run(self, script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        environment = {
            "PATH": f"{self.bin}:{self.root / 'tools'}",
            "HOME": str(self.home),
            "OS_RELEASE": str(self.root / "os-release"),
            "VENV": str(self.root / "venv"),
            **env,
        }
        return subprocess.run(
            [str(self.root / "tools" / "bash"), str(BASE_DIR / "scripts" / script), *args],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def called(self) -> list[str]:
        return self.calls.read_text().splitlines() if self.calls.exists() else []


def make_sandbox(root: Path, os_release: str = 'ID=debian\nVERSION_ID="12"\n') -> Sandbox:
    box = Sandbox(root)
    (root / "tools").mkdir(parents=True)
    box.bin.mkdir()
    box.home.mkdir()
    for tool in TOOLS:
        real = shutil.which(tool)
        if real:
            os.symlink(real, root / "tools" / tool)
    (root / "os-release").write_text(os_release)
    box.stub("uname", "echo Linux")
    box.stub("id", 'echo "${FAKE_UID:-1000}"')
    return box


__all__ = ["Sandbox", "make_sandbox", "sys"]
