"""The README against the real command line: every command and flag it shows exists, every
command exists in it, and what a new user needs first is there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import REPO
from lenet5.cli import build_parser

README = REPO / "README.md"


def _subcommands() -> dict[str, set[str]]:
    """command name -> its option strings, read from the argparse parser itself."""
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")  # the subparsers action
    return {name: {opt for a in sub._actions for opt in a.option_strings} for name, sub in action.choices.items()}


def _code(text: str) -> str:
    """The README's code: fenced blocks and inline code spans, one per line."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return "\n".join(blocks + spans)


def _invocations(text: str) -> list[tuple[str, str]]:
    """(command, rest of the line) for each `lenet5 COMMAND ...` written as code in the text."""
    text = _code(text)
    found = re.finditer(r"lenet5 ([a-z][a-z-]+)([^\n`]*)", text)
    return [(m.group(1), m.group(2).split(" #")[0]) for m in found]  # a shell comment is not a flag


def test_readme_shows_only_real_commands_and_flags() -> None:
    commands = _subcommands()
    invocations = _invocations(README.read_text())
    assert len(invocations) > 20
    for command, rest in invocations:
        assert command in commands, f"README shows `lenet5 {command}`, which does not exist"
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", rest):
            assert flag in commands[command], f"README shows `lenet5 {command} ... {flag}`, not a flag of it"


def test_every_command_is_in_the_readme() -> None:
    shown = {command for command, _ in _invocations(README.read_text())}
    assert set(_subcommands()) <= shown, set(_subcommands()) - shown


def test_the_first_ten_minutes() -> None:
    text = README.read_text()
    quick_start = text[text.index("## Quick start") : text.index("## Where things are")]
    assert "source .venv/bin/activate" in quick_start  # else a bare `lenet5` is "command not found"
    # What to do after `make run`: predict, report, serve, each on the run just trained.
    for step in ("lenet5 predict", "lenet5 report", "lenet5 serve"):
        assert step in quick_start[quick_start.index("make run") :], step
    # Example run folders look like the real default: runs/MODEL-YYYYMMDD-HHMMSS.
    for name in re.findall(r"runs/((?:seed|lenet5)-[\w-]+)", text):
        assert re.fullmatch(r"(seed|lenet5)-\d{8}-\d{6}", name), name
    # Honest limits: the weak kinds of picture are stated with their measured numbers.
    assert "shadow" in quick_start and "%" in quick_start


@pytest.mark.parametrize("path", sorted(REPO.glob("README*.md")))
def test_readme_links_resolve(path: Path) -> None:
    for target in re.findall(r"\]\(([^)#]+)\)", path.read_text()):
        if not target.startswith(("http://", "https://")):
            assert (path.parent / target).exists(), target


def test_the_chinese_readme_names_the_same_commands_and_flags() -> None:
    """README.zh-CN.md is a faithful version: every `lenet5 COMMAND` and every flag shown in
    one is shown in the other, and each links to the other at the top."""
    english, chinese = README.read_text(), (REPO / "README.zh-CN.md").read_text()

    def shown(text: str) -> tuple[set[str], set[str]]:
        calls = _invocations(text)
        flags = {flag for _, rest in calls for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", rest)}
        return {command for command, _ in calls}, flags

    assert shown(english)[0] == shown(chinese)[0]
    assert shown(english)[1] == shown(chinese)[1], shown(english)[1] ^ shown(chinese)[1]
    assert "(README.zh-CN.md)" in english.split("\n\n")[1]
    assert "(README.md)" in chinese.split("\n\n")[1]
    commands = _subcommands()
    for command, rest in _invocations(chinese):
        assert command in commands
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", rest):
            assert flag in commands[command], f"README.zh-CN.md shows `lenet5 {command} ... {flag}`"
