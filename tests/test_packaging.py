"""The project's own files: pyproject.toml and environment.yml name the same packages, and
the README starts with the two commands that .ci/run and a newcomer use."""

import re
import sys
from pathlib import Path

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_names() -> set:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return {_name(r) for r in reqs}


def _environment_names() -> set:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            names.add(_name(dep))
    return names - {"python", "pip"}


def test_environment_yml_lists_the_same_packages_as_pyproject():
    py, conda = _pyproject_names(), _environment_names()
    assert py == conda, (f"only in pyproject.toml: {sorted(py - conda)}; "
                         f"only in environment.yml: {sorted(conda - py)}")


def test_environment_yml_installs_ipclab_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict)][0]["pip"]
    assert "-e ." in pip


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["bash course.sh", "bash test.sh"]
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "bash test.sh" in ci  # a line of its own, under `set -e`: its failure fails CI
    assert "set -euo pipefail" in ci


def test_python_floor_is_3_10():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.10"


def _constraints() -> dict:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        requirement, _, marker = line.partition(";")
        name, _, pinned = requirement.partition("==")
        pins[_name(name)] = (pinned.strip(), marker.strip())
    return pins


def test_constraints_pin_every_dependency_that_shapes_the_stored_outputs():
    pins = _constraints()
    for name in ("matplotlib", "ipython", "ipykernel", "nbval", "nbformat", "ipywidgets",
                 "ipympl", "jupyterlab", "psutil", "pytest"):
        assert name in pins, f"{name} is not pinned in constraints.txt"
    assert all(marker == 'python_version == "3.11"' for _, marker in pins.values())
    assert pins.keys() <= _pyproject_names() | {
        "ipython", "jupyter-client", "jupyterlab-widgets", "nbclient", "nbconvert",
        "widgetsnbextension"}, "a pin for a package nothing installs"


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the pins are for Python 3.11")
def test_this_environment_has_the_pinned_versions():
    """test.sh and course.sh install with -c constraints.txt: what runs is what was pinned."""
    from importlib.metadata import PackageNotFoundError, version

    wrong = {}
    for name, (pinned, _) in _constraints().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue  # an extra this environment did not install
        if installed != pinned:
            wrong[name] = (installed, pinned)
    assert not wrong, f"installed vs constraints.txt: {wrong}"
    assert version("matplotlib") == _constraints()["matplotlib"][0]


def test_one_version_string():
    import ipclab

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ipclab.__version__"}
    assert f"## {ipclab.__version__} " in (ROOT / "CHANGELOG.md").read_text()


def test_binder_gets_a_pinned_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
