"""scripts/find-python finds a Python 3.12+ wherever people keep one, and says how to get one."""

import pytest

from tests.scripts.sandbox import make_sandbox


@pytest.fixture
def box(tmp_path):
    return make_sandbox(tmp_path)


def run(box, **env):
    return box.run("find-python", FIND_PYTHON_PREFIXES=str(box.root / "system"), **env)


def test_a_python3_12_on_path_is_found(box):
    box.python("python3", "3.11")
    expected = box.python("python3.12", "3.12")

    result = run(box)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(expected)


def test_python_set_by_the_user_wins(box):
    box.python("python3.12", "3.12")
    chosen = box.python("mypython", "3.13", directory=box.root / "elsewhere")

    result = run(box, PYTHON=str(chosen))

    assert result.stdout.strip() == str(chosen)


def test_python_set_by_the_user_to_an_old_version_is_refused_with_the_reason(box):
    box.python("python3.12", "3.12")
    old = box.python("python3", "3.11", directory=box.root / "old")

    result = run(box, PYTHON=str(old))

    assert result.returncode == 1
    assert "not a Python 3.12 or newer" in result.stderr


def test_pyenv_versions_are_searched_oldest_suitable_first(box):
    versions = box.home / ".pyenv" / "versions"
    box.python("python3", "3.11", directory=versions / "3.11.7" / "bin")
    expected = box.python("python3", "3.12", directory=versions / "3.12.1" / "bin")
    box.python("python3", "3.13", directory=versions / "3.13.0" / "bin")

    result = run(box)

    assert result.stdout.strip() == str(expected)


def test_a_pyenv_shim_that_is_not_activated_is_skipped(box):
    box.stub("python3.12", 'echo "pyenv: python3.12: command not found" >&2; exit 127')
    expected = box.python("python3", "3.12", directory=box.home / ".pyenv" / "versions" / "3.12.1" / "bin")

    result = run(box)

    assert result.stdout.strip() == str(expected)


def test_uv_managed_pythons_are_found(box):
    uv = box.home / ".local" / "share" / "uv" / "python"
    expected = box.python("python3", "3.12", directory=uv / "cpython-3.12.7-linux-x86_64-gnu" / "bin")

    result = run(box)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(expected)


def test_system_prefixes_are_searched_last(box):
    expected = box.python("python3.13", "3.13", directory=box.root / "system")

    result = run(box)

    assert result.stdout.strip() == str(expected)


@pytest.mark.parametrize(
    ("os_release", "uname", "advice"),
    [
        ('ID=debian\nVERSION_ID="12"\n', "Linux", "uv python install 3.12"),
        ('ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n', "Linux", "sudo apt-get install python3.12 python3.12-venv"),
        ("ID=fedora\nVERSION_ID=40\n", "Linux", "sudo dnf install python3.12"),
        ("", "Darwin", "brew install python@3.12"),
    ],
)
def test_without_a_suitable_python_it_says_how_to_get_one_on_this_os(tmp_path, os_release, uname, advice):
    box = make_sandbox(tmp_path, os_release=os_release)
    box.stub("uname", f"echo {uname}")
    box.python("python3", "3.11")

    result = run(box)

    assert result.returncode == 1
    assert result.stdout == ""
    assert "No Python 3.12 or newer found" in result.stderr
    assert advice in result.stderr
    assert "PYTHON=" in result.stderr
