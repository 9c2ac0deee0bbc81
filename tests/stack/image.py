"""Read the Dockerfile's runtime stage: its ``ENV`` values, ``CMD`` and ``HEALTHCHECK``.

The end-to-end tests start the API with the image's own command and environment, so
what they prove is what the container runs.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
LOGGING_CONFIG = ROOT / "deploy" / "logging.yaml"


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, keyword: str) -> list[str]:
        return [value for key, value in self.instructions if key == keyword]


def instructions(text: str) -> list[tuple[str, str]]:
    """``(KEYWORD, arguments)`` pairs with continuation lines joined, comments dropped."""
    logical: list[str] = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    if current:
        logical.append(current)
    pairs = []
    for entry in logical:
        keyword, _, rest = entry.partition(" ")
        pairs.append((keyword.upper(), rest.strip()))
    return pairs


def stages(path: Path = DOCKERFILE) -> list[Stage]:
    """Return the build stages, in order (``FROM image AS name``)."""
    found: list[Stage] = []
    for keyword, rest in instructions(path.read_text("utf-8")):
        if keyword == "FROM":
            match = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            assert match, rest
            found.append(Stage(name=match.group(2) or "", base=match.group(1)))
        elif found:
            found[-1].instructions.append((keyword, rest))
    return found


def runtime_stage(path: Path = DOCKERFILE) -> Stage:
    return stages(path)[-1]


def env(stage: Stage) -> dict[str, str]:
    """Return the stage's ``ENV KEY=value ...`` settings (``$VAR`` kept as text)."""
    values: dict[str, str] = {}
    for rest in stage.values("ENV"):
        for item in shlex.split(rest):
            key, _, value = item.partition("=")
            values[key] = value
    return values


def command(stage: Stage) -> list[str]:
    """Return the exec-form ``CMD`` of the stage."""
    (cmd,) = stage.values("CMD")[-1:]
    parsed = json.loads(cmd)
    assert isinstance(parsed, list)
    return [str(part) for part in parsed]


def api_argv() -> list[str]:
    """Return the image's ``CMD``, with the logging config from the checkout."""
    argv = command(runtime_stage())
    assert argv[0] == "uvicorn"
    argv = [sys.executable, "-m", *argv]
    return [str(LOGGING_CONFIG) if part == "/app/deploy/logging.yaml" else part for part in argv]
