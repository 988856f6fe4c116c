"""Issue 20, point 4: requirements.txt is the runtime only (test tools in
requirements-dev.txt), and deploy/ holds systemd units that run commands that exist.

Before, requirements.txt mixed playwright, schemathesis, hypothesis and ruff into every
production install, and only the worker had a systemd example (in the README's prose).
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP_DIRS = ("fulfillment", "trepstar")
APP_FILES = ("gunicorn.conf.py", "manage.py")
LOCAL = {"fulfillment", "trepstar"}
DEPLOY = ROOT / "deploy"
UNITS = ("trepstar-web.service", "trepstar-worker.service")


def requirement_names(path: Path) -> set[str]:
    """Return the normalised distribution names a requirements file pins (not its -r lines)."""
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(normalise(re.split(r"[\[<>=!~ ;]", line, maxsplit=1)[0]))
    return names


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def with_dependencies(names: set[str]) -> set[str]:
    """Return `names` and every distribution they need (no extras), transitively."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        for requirement in requires:
            if "extra ==" in requirement:
                continue
            todo.append(normalise(re.split(r"[\[<>=!~ ;(]", requirement, maxsplit=1)[0]))
    return seen


def modules_of(distributions: set[str]) -> set[str]:
    """Return the top-level modules the installed `distributions` provide."""
    return {
        module
        for module, dists in metadata.packages_distributions().items()
        if any(normalise(d) in distributions for d in dists)
    }


def app_sources() -> list[Path]:
    files = [ROOT / name for name in APP_FILES]
    for folder in APP_DIRS:
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def third_party_imports() -> dict[str, str]:
    """Return {top-level module: first file importing it} of the app's non-stdlib imports."""
    found: dict[str, str] = {}
    for path in app_sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in LOCAL:
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


RUNTIME = requirement_names(ROOT / "requirements.txt")
DEV_ONLY = requirement_names(ROOT / "requirements-dev.txt") - RUNTIME


def test_runtime_requirements_hold_no_test_tool():
    assert RUNTIME, "requirements.txt pins nothing"
    for tool in ("pytest", "pytest-django", "hypothesis", "playwright", "ruff", "schemathesis"):
        assert tool not in RUNTIME, tool
        assert tool in DEV_ONLY, tool
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text()


def test_every_module_the_app_imports_comes_with_the_runtime_requirements():
    allowed = modules_of(with_dependencies(RUNTIME))
    imports = third_party_imports()
    assert {"django", "rest_framework", "axes", "cryptography"} <= imports.keys()
    missing = {module: where for module, where in imports.items() if module not in allowed}
    assert missing == {}, f"imported by the app, not installed by requirements.txt: {missing}"


BLOCK_DEV_TOOLS = """
import importlib, importlib.abc, pkgutil, sys
BLOCKED = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"dev-only package imported at runtime: {name}")
sys.meta_path.insert(0, Block())
import django
django.setup()
import fulfillment, trepstar
for package in (fulfillment, trepstar):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)
from django.core.management import call_command
call_command("check")
print("imported")
"""


def test_the_app_imports_and_checks_with_every_dev_only_package_blocked(tmp_path):
    blocked = modules_of(DEV_ONLY) - modules_of(with_dependencies(RUNTIME))
    assert {"pytest", "hypothesis", "playwright", "schemathesis", "aiosmtpd"} <= blocked
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "trepstar.settings",
        "DEBUG": "0",
        "SECRET_KEY": "runtime-import-check-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_DEV_TOOLS, ",".join(sorted(blocked))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "imported" in done.stdout


def unit(name: str) -> dict[str, list[str]]:
    """Parse a systemd unit's [Service] keys (each key: its values in order)."""
    keys: dict[str, list[str]] = {}
    section = ""
    for raw in (DEPLOY / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service":
            key, _, value = line.partition("=")
            keys.setdefault(key, []).append(value)
    return keys


@pytest.mark.parametrize("name", UNITS)
def test_the_systemd_units_run_commands_that_exist(name):
    from django.core.management import get_commands

    service = unit(name)
    [workdir] = service["WorkingDirectory"]
    [start] = service["ExecStart"]
    [env_file] = service["EnvironmentFile"]
    assert (DEPLOY / "trepstar.env.example").exists() and env_file.endswith("trepstar.env")
    program, *args = start.split()
    # The unit's checkout path stands for this repository.
    local = Path(program.replace(workdir, str(ROOT)))
    assert local.exists(), f"{name}: {program} is not in a checkout with .venv"
    if local.name.startswith("python"):
        assert args[0] == "manage.py" and (ROOT / "manage.py").exists()
        assert args[1] in get_commands(), f"{name}: no manage.py command {args[1]}"
    else:
        assert local.name == "gunicorn"
        assert args[0] == "-c" and (ROOT / args[1]).exists()
    assert service["KillSignal"] == ["SIGTERM"]
    assert service["User"] and service["User"] != ["root"]


def test_every_variable_of_the_environment_example_is_read_somewhere():
    readers = (ROOT / "trepstar" / "settings.py").read_text() + (
        ROOT / "gunicorn.conf.py"
    ).read_text()
    for line in (DEPLOY / "trepstar.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name = line.split("=", 1)[0]
            assert f'"{name}"' in readers, f"{name} is read by neither settings nor gunicorn"


def test_the_old_worker_unit_example_is_gone_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    assert "deploy/trepstar-worker.service" in readme
    assert "ExecStart=/srv/trepstar/.venv/bin/python manage.py worker" not in readme
