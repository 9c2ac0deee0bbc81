"""docs/deploying.md names only things that exist.

Compose services and profiles, environment variables, make targets, ``tarve``
subcommands and the repository files it points to.
"""

from __future__ import annotations

import argparse
import re
import shlex

import yaml

from tarve.cli import build_parser
from tests.stack.conftest import POSTGRES_ENV
from tests.stack.image import ROOT, env, runtime_stage
from tests.stack.test_compose_structure import documented_variables, variables_the_code_reads

GUIDE = (ROOT / "docs" / "deploying.md").read_text("utf-8")
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
SERVICES = set(COMPOSE["services"])
PROFILES = {p for service in COMPOSE["services"].values() for p in service.get("profiles", [])}
# docker compose subcommands whose first positional argument is a service, then a command
SERVICE_THEN_COMMAND = {"run", "exec"}
SERVICE_LIST = {"up", "stop", "start", "restart", "logs", "ps", "build", "pull", "down"}
OPTIONS_WITH_VALUE = {"-v", "--volume", "--entrypoint", "-u", "--user", "-e", "--env", "-w"}
VARIABLE = re.compile(
    r"\b((?:TARVE|MLFLOW|POSTGRES|UVICORN)_[A-Z0-9][A-Z0-9_]*|PG[A-Z]+|WEB_CONCURRENCY"
    r"|FORWARDED_ALLOW_IPS)\b"
)


def shell_lines() -> list[str]:
    """Shell commands of the guide: lines of its code blocks and its inline code."""
    lines: list[str] = []
    for block in re.findall(r"```(?:sh)?\n(.*?)```", GUIDE, re.DOTALL):
        joined = block.replace("\\\n", " ")
        lines.extend(line.strip() for line in joined.splitlines() if line.strip())
    lines.extend(re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", GUIDE, flags=re.DOTALL)))
    return [line for line in lines if not line.startswith("#")]


def commands(program: str) -> list[list[str]]:
    """Every ``program ...`` command in the guide, split into words."""
    found = []
    for line in shell_lines():
        for part in re.split(r"\s*(?:&&|;|\|)\s*", line):
            try:
                words = shlex.split(part)
            except ValueError:
                continue
            if words[:1] == [program]:
                found.append(words)
    return found


def compose_invocations() -> list[list[str]]:
    return [words[2:] for words in commands("docker") if words[1:2] == ["compose"]]


def test_the_guide_names_compose_services_and_profiles_that_exist() -> None:
    invocations = compose_invocations()
    assert len(invocations) > 10
    named: set[str] = set()
    for words in invocations:
        index = 0
        while index < len(words) and words[index].startswith("-"):
            if words[index] == "--profile":
                assert words[index + 1] in PROFILES, words
                index += 1
            index += 1
        if index >= len(words):
            continue  # "docker compose" named in prose
        subcommand, rest = words[index], words[index + 1 :]
        names: list[str] = []
        position = 0
        while position < len(rest):
            word = rest[position]
            if word == "--scale":
                names.append(rest[position + 1].split("=")[0])
                position += 2
                continue
            if word in OPTIONS_WITH_VALUE:
                position += 2
                continue
            position += 1
            if word.startswith("-"):
                continue
            names.append(word)
            if subcommand in SERVICE_THEN_COMMAND:
                break
        for name in names:
            assert name in SERVICES, f"docker compose {' '.join(words)}: no service {name!r}"
            named.add(name)
        assert subcommand in SERVICE_THEN_COMMAND | SERVICE_LIST, words
    assert {"api", "mlflow", "postgres", "proxy", "train"} <= named


def test_the_guide_names_variables_that_exist() -> None:
    known = (
        documented_variables()
        | variables_the_code_reads()
        | set(env(runtime_stage()))
        | {str(k) for s in COMPOSE["services"].values() for k in (s.get("environment") or {})}
        | {POSTGRES_ENV}
    )
    named = set(VARIABLE.findall(GUIDE))
    assert "TARVE_MODEL_URI" in named
    unknown = named - known
    assert not unknown, f"docs/deploying.md names unknown variables: {sorted(unknown)}"


def test_the_guide_names_make_targets_that_exist() -> None:
    makefile = (ROOT / "Makefile").read_text("utf-8")
    targets = set(re.findall(r"^([a-z][a-z0-9_-]*):", makefile, re.MULTILINE))
    named = {words[1] for words in commands("make") if len(words) > 1}
    assert named, "the guide names no make target"
    assert named <= targets, f"unknown make targets: {sorted(named - targets)}"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_the_guide_names_tarve_subcommands_and_options_that_exist() -> None:
    tarve_commands = [words for words in commands("tarve") if len(words) > 1]
    for words in compose_invocations():
        for index, word in enumerate(words[1:], start=1):
            if word == "tarve" and words[index - 1] in SERVICES:
                tarve_commands.append(words[index:])
    assert len(tarve_commands) >= 6
    for words in tarve_commands:
        parser = build_parser()
        path = []
        for word in words[1:]:
            choices = _subparsers(parser)
            if not choices or word.startswith("-"):
                break
            assert word in choices, f"`{' '.join(words)}`: no subcommand {word!r}"
            parser = choices[word]
            path.append(word)
        assert path, words
        options = {option for action in parser._actions for option in action.option_strings}
        for word in words[1:]:
            if word.startswith("--"):
                assert word.split("=")[0] in options, f"`{' '.join(words)}`: no option {word}"


def test_the_files_the_guide_points_to_exist() -> None:
    paths = set(re.findall(r"`((?:deploy|docs|tests|service)/[\w./-]+)`", GUIDE))
    paths |= {"Dockerfile", "docker-compose.yml", ".env.example"}
    assert len(paths) > 8
    missing = [
        path
        for path in sorted(paths)
        if not (ROOT / path).exists() and not path.startswith("deploy/certs/tls.")
    ]
    assert not missing, f"docs/deploying.md points to missing files: {missing}"
