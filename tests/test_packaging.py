"""Packaging: the hand-kept package list in pyproject.toml and where installed copies find shipped weights."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import restore_cli
from restore_cli import weights

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def test_pyproject_lists_every_package():
    setuptools = pytest.importorskip("setuptools")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    found = set(setuptools.find_packages(str(ROOT), include=["restore_cli*"]))
    listed = set(config["packages"])
    assert listed - {"restore_cli.shipped_weights"} == found
    assert config["package-dir"]["restore_cli.shipped_weights"] == "weights"
    data = config["package-data"]["restore_cli.shipped_weights"]
    assert "manifest.json" in data and "*.safetensors" in data


def test_shipped_weights_found_in_source_tree(monkeypatch):
    monkeypatch.delenv("RESTORE_WEIGHTS_DIR", raising=False)
    assert weights.shipped_weights_dir() == ROOT / "weights"


def test_installed_copy_used_without_source_tree(tmp_path, monkeypatch):
    # An installed package has no weights/ beside it: the package data folder is used instead.
    monkeypatch.delenv("RESTORE_WEIGHTS_DIR", raising=False)
    package = tmp_path / "site-packages" / "restore_cli"
    package.mkdir(parents=True)
    monkeypatch.setattr(restore_cli, "__file__", str(package / "__init__.py"))
    assert weights.shipped_weights_dir() == package / "shipped_weights"
