"""scripts/bootstrap (make install's first step): what the venv's build needs from the system is
installed with apt when it can be, and otherwise named in the exact command to run."""

import pytest

from tests.scripts.sandbox import make_sandbox

UBUNTU = 'ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n'
FEDORA = "ID=fedora\nVERSION_ID=40\n"
PKG_CONFIG_WITH_MYSQL = 'case "$*" in *--exists*) exit 0 ;; esac'
PKG_CONFIG_WITHOUT_MYSQL = 'case "$*" in *--exists*) exit 1 ;; esac'


@pytest.fixture
def box(tmp_path):
    box = make_sandbox(tmp_path)
    box.python("python3.12", "3.12")
    return box


def fresh_machine(box, *, apt: bool = True):
    """No compiler, no pkg-config, no MySQL headers; apt-get installs what it is asked for."""
    if apt:
        box.stub(
            "apt-get",
            f"""
if [ "$1" = install ]; then
  for name in "$@"; do
    case $name in
      build-essential) printf '#!/bin/sh\\nexit 0\\n' > "{box.bin}/cc"; chmod +x "{box.bin}/cc" ;;
      pkg-config) printf '#!/bin/sh\\nexit 0\\n' > "{box.bin}/pkg-config"; chmod +x "{box.bin}/pkg-config" ;;
    esac
  done
fi""",
        )
        box.stub("apt-cache", "exit 0")


def installs(box):
    return [line for line in box.called() if line.startswith(("apt-get install", "sudo apt-get install"))]


def test_nothing_is_installed_when_everything_is_there(box):
    fresh_machine(box)
    box.stub("cc", "exit 0")
    box.stub("pkg-config", PKG_CONFIG_WITH_MYSQL)

    result = box.run("bootstrap", PYTHON=str(box.bin / "python3.12"), FAKE_UID="0")

    assert result.returncode == 0, result.stderr
    assert not [line for line in box.called() if line.startswith("apt-get")]


def test_as_root_on_debian_the_compiler_pkg_config_and_mysql_headers_are_installed_with_apt(box):
    fresh_machine(box)

    result = box.run("bootstrap", PYTHON=str(box.bin / "python3.12"), FAKE_UID="0")

    assert result.returncode == 0, result.stderr
    assert "apt-get update -qq" in box.called()
    assert installs(box) == [
        "apt-get install -y -qq --no-install-recommends build-essential pkg-config default-libmysqlclient-dev"
    ]


def test_with_passwordless_sudo_apt_runs_through_sudo(box):
    fresh_machine(box)
    box.stub("sudo", '[ "$1" = -n ] && shift; "$@"')

    result = box.run("bootstrap", PYTHON=str(box.bin / "python3.12"), FAKE_UID="1000")

    assert result.returncode == 0, result.stderr
    assert [line for line in installs(box) if line.startswith("sudo")] == [
        "sudo apt-get install -y -qq --no-install-recommends build-essential pkg-config default-libmysqlclient-dev"
    ]
    assert "sudo apt-get update -qq" in box.called()


def test_without_root_or_passwordless_sudo_it_stops_at_once_with_the_exact_command(box):
    fresh_machine(box)
    box.stub("sudo", "exit 1")  # sudo -n: a password is required

    result = box.run("bootstrap", PYTHON=str(box.bin / "python3.12"), FAKE_UID="1000")

    assert result.returncode == 1
    assert "sudo apt-get install -y build-essential pkg-config default-libmysqlclient-dev" in result.stderr
    assert not installs(box)
    assert "apt-get update -qq" not in box.called()


def test_only_the_missing_mysql_headers_are_installed(box):
    fresh_machine(box)
    box.stub("cc", "exit 0")
    box.stub("pkg-config", f'if [ -e "{box.root}/headers" ]; then exit 0; fi; exit 1')
    box.stub("apt-get", f'[ "$1" = install ] && touch "{box.root}/headers"; exit 0')

    result = box.run("bootstrap", PYTHON=str(box.bin / "python3.12"), FAKE_UID="0")

    assert result.returncode == 0, result.stderr
    assert installs(box) == ["apt-get install -y -qq --no-install-recommends default-libmysqlclient-dev"]


def test_an_install_that_does_not_bring_the_headers_is_an_error_naming_them(box):
    fresh_machine(box)
    box.stub("cc", "exit 0")
    box.stub("pkg-config", PKG_CONFIG_WITHOUT_MYSQL)
    box.stub("apt-get", "exit 0")

    result = box.run("bootstrap", PYTHON=str(box.bin / "python3.12"), FAKE_UID="0")

    assert result.returncode == 1
    assert "finds neither mysqlclient nor mariadb" in result.stderr


def test_ubuntu_without_default_libmysqlclient_dev_gets_libmysqlclient_dev(tmp_path):
    box = make_sandbox(tmp_path, os_release=UBUNTU)
    box.python("python3.12", "3.12")
    fresh_machine(box)
    box.stub("apt-cache", "exit 100")
    box.stub("cc", "exit 0")
    box.stub("pkg-config", f'if [ -e "{box.root}/headers" ]; then exit 0; fi; exit 1')
    box.stub("apt-get", f'[ "$1" = install ] && touch "{box.root}/headers"; exit 0')

    result = box.run("bootstrap", PYTHON=str(box.bin / "python3.12"), FAKE_UID="0")

    assert result.returncode == 0, result.stderr
    assert installs(box) == ["apt-get install -y -qq --no-install-recommends libmysqlclient-dev"]


def test_a_distribution_python_gets_its_headers_and_venv_packages(tmp_path):
    box = make_sandbox(tmp_path, os_release=UBUNTU)
    python = box.python("python3.12", "3.12", base_prefix="/usr", headers=False, ensurepip=False)
    fresh_machine(box)
    box.stub("cc", "exit 0")
    box.stub("pkg-config", PKG_CONFIG_WITH_MYSQL)

    result = box.run("bootstrap", PYTHON=str(python), FAKE_UID="0")

    assert result.returncode == 0, result.stderr
    assert installs(box) == ["apt-get install -y -qq --no-install-recommends python3.12-dev python3.12-venv"]


def test_bootstrap_install_no_prints_the_command_even_as_root(box):
    fresh_machine(box)

    result = box.run("bootstrap", PYTHON=str(box.bin / "python3.12"), FAKE_UID="0", BOOTSTRAP_INSTALL="no")

    assert result.returncode == 1
    assert "  apt-get install -y build-essential pkg-config default-libmysqlclient-dev" in result.stderr
    assert not installs(box)


def test_on_fedora_it_prints_the_dnf_command_and_installs_nothing(tmp_path):
    box = make_sandbox(tmp_path, os_release=FEDORA)
    box.python("python3.12", "3.12")
    box.stub("dnf", "exit 0")

    result = box.run("bootstrap", PYTHON=str(box.bin / "python3.12"), FAKE_UID="1000")

    assert result.returncode == 1
    assert "sudo dnf install -y gcc pkgconf-pkg-config mysql-devel" in result.stderr
    assert not [line for line in box.called() if line.startswith("dnf")]


def test_on_macos_it_prints_the_brew_command(box):
    box.stub("uname", "echo Darwin")
    box.stub("cc", "exit 0")
    box.stub("brew", "exit 0")

    result = box.run("bootstrap", PYTHON=str(box.bin / "python3.12"), FAKE_UID="501")

    assert result.returncode == 1
    assert "brew install pkg-config mysql-client" in result.stderr
    assert "PKG_CONFIG_PATH" in result.stderr
    assert not [line for line in box.called() if line.startswith("brew")]


def test_a_venv_that_already_holds_the_pinned_mysqlclient_needs_no_build_packages(box):
    fresh_machine(box)  # no compiler, no pkg-config, no headers
    box.python("python", "3.12", directory=box.root / "venv" / "bin")  # importlib.metadata probe: exit 0

    result = box.run("bootstrap", PYTHON=str(box.bin / "python3.12"), FAKE_UID="0")

    assert result.returncode == 0, result.stderr
    assert not installs(box)


def test_without_a_python_3_12_bootstrap_stops_with_find_pythons_advice(tmp_path):
    box = make_sandbox(tmp_path)
    box.python("python3", "3.11")

    result = box.run("bootstrap", FAKE_UID="0", FIND_PYTHON_PREFIXES=str(tmp_path / "none"))

    assert result.returncode == 1
    assert "No Python 3.12 or newer found" in result.stderr
