"""The README documents every setting and every command."""

from __future__ import annotations

from archive_qa.cli import build_parser
from archive_qa.settings import SETTINGS
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in README]
    assert not missing, f"document these settings in README.md's Settings table: {missing}"


def test_every_command_is_documented() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    missing = [name for name in commands if f"archive-qa {name}" not in README]
    assert not missing, f"document these commands in README.md: {missing}"


def test_readme_opens_with_the_two_commands() -> None:
    head = README.split("\n## ", 1)[0]
    assert "make run" in head and "make test" in head
    assert "make test" in (ROOT / ".ci" / "run").read_text()
