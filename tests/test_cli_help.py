"""`pipeline COMMAND --help` says what the command does, lists its options, the environment it reads and an example."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import REPO

from pipeline.cli import build_parser

COMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_lists_options_environment_and_an_example(command: str) -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "pipeline", command, "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert f"usage: pipeline {command}" in text
    assert "options:" in text and "environment:\n  " in text
    assert re.search(rf"example:\n  .*pipeline {command}\b", text), text
    body = text.split("\n\n", 1)[1]
    assert body.strip().split("\n")[0], "a description of what the command does"


def test_the_commands_are_the_documented_ones() -> None:
    assert {"run", "extract", "explain", "eval", "report", "verify", "publish", "download"} <= set(COMMANDS)
