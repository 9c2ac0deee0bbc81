"""The Dockerfile, docker-compose.yml and .env.example, checked without a Docker engine.

Images or builds, health checks, a non-root user, the ``train`` profile, two databases
with their own users, a stateless API, every environment variable the code reads set
or documented in ``.env.example``, and no secret with a default anywhere.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings
from sqlalchemy.engine import make_url

from tests.stack.image import ROOT, command, env, runtime_stage, stages

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text("utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
ENV_EXAMPLE = (ROOT / ".env.example").read_text("utf-8")
PACKAGES = ("models", "training", "fairness", "service", "tarve")
TARVE_SERVICES = ("mlflow", "api", "train")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY$")
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?])?([^}]*)\}")
SHELL_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
# Set for the init script by the postgres image itself.
POSTGRES_IMAGE_VARIABLES = {"POSTGRES_USER", "POSTGRES_DB"}


def documented_variables() -> set[str]:
    """Names in .env.example, assigned (``NAME=``) or named in a comment (``# NAME=``)."""
    return set(re.findall(r"^[#\s]*([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE, re.MULTILINE))


def environment(service: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in (SERVICES[service].get("environment") or {}).items()}


def python_files() -> list[Path]:
    return [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def environ_reads(tree: ast.AST) -> set[str]:
    """Names read through ``os.environ[...]``, ``os.environ.get/setdefault``, ``os.getenv``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            name = _literal(node.slice)
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in {
            "os.environ.get",
            "os.environ.setdefault",
            "os.getenv",
        }:
            name = _literal(node.args[0]) if node.args else None
        else:
            continue
        if name:
            names.add(name)
    return names


def settings_classes() -> list[type[BaseSettings]]:
    """Every pydantic-settings class defined in tarve's packages."""
    found: list[type[BaseSettings]] = []
    for path in python_files():
        tree = ast.parse(path.read_text("utf-8"))
        candidates = [
            node.name
            for node in tree.body
            if isinstance(node, ast.ClassDef)
            and any("BaseSettings" in ast.unparse(base) for base in node.bases)
        ]
        if not candidates:
            continue
        module_name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        module = importlib.import_module(module_name.removesuffix(".__init__"))
        found.extend(getattr(module, name) for name in candidates)
    return found


def variables_the_code_reads() -> set[str]:
    names: set[str] = set()
    for path in python_files():
        names |= environ_reads(ast.parse(path.read_text("utf-8")))
    for settings in settings_classes():
        prefix = settings.model_config.get("env_prefix", "")
        names |= {f"{prefix}{field}".upper() for field in settings.model_fields}
    return names


def test_the_code_reads_the_settings_and_environment_we_think() -> None:
    names = variables_the_code_reads()
    assert {"TARVE_DATABASE_URL", "TARVE_MODEL_URI", "TARVE_HOME", "MLFLOW_TRACKING_URI"} <= names


def test_every_variable_the_code_reads_is_set_or_documented_in_env_example() -> None:
    missing = variables_the_code_reads() - documented_variables()
    assert not missing, f"read by the code, not in .env.example: {sorted(missing)}"


def test_every_variable_compose_interpolates_is_in_env_example() -> None:
    text = (ROOT / "docker-compose.yml").read_text("utf-8")
    used = {match.group(1) for match in INTERPOLATION.finditer(text)}
    missing = used - documented_variables()
    assert not missing, f"used by docker-compose.yml, not in .env.example: {sorted(missing)}"


@pytest.mark.parametrize(
    ("script", "service"),
    [("deploy/train.sh", "train"), ("deploy/postgres/create-databases.sh", "postgres")],
)
def test_the_scripts_read_only_variables_their_service_sets(script: str, service: str) -> None:
    text = (ROOT / script).read_text("utf-8")
    read = {name for name in SHELL_VARIABLE.findall(text) if name.isupper()}
    provided = set(environment(service)) | set(env(runtime_stage())) | POSTGRES_IMAGE_VARIABLES
    missing = read - provided
    assert not missing, f"{script} reads {sorted(missing)}, which {service} does not set"


def test_no_secret_has_a_default() -> None:
    text = (ROOT / "docker-compose.yml").read_text("utf-8")
    for match in INTERPOLATION.finditer(text):
        name, operator = match.group(1), match.group(2)
        if SECRET_NAME.search(name):
            assert operator == ":?", f"${{{name}}} must be required (${{{name}:?...}})"
    for service in SERVICES:
        for name, value in environment(service).items():
            if SECRET_NAME.search(name):
                assert INTERPOLATION.fullmatch(value), f"{service}: {name} is a literal"
                assert ":?" in value, f"{service}: {name} must be required"
    for name, value in re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE, re.MULTILINE):
        if SECRET_NAME.search(name):
            assert value == "", f".env.example must not suggest a value for {name}"
    for stage in stages():
        for keyword in ("ENV", "ARG"):
            for rest in stage.values(keyword):
                assert not SECRET_NAME.search(rest), f"Dockerfile {keyword} {rest}"
    for settings in settings_classes():
        for field, info in settings.model_fields.items():
            if SECRET_NAME.search(field.upper()):
                assert info.is_required(), f"{settings.__name__}.{field} has a default"


def test_every_service_has_an_image_or_a_build_and_a_health_check() -> None:
    assert set(SERVICES) >= {"postgres", "mlflow", "api", "proxy", "train"}
    for name, service in SERVICES.items():
        assert service.get("image") or service.get("build"), name
        if name != "train":
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name in TARVE_SERVICES:
        assert SERVICES[name]["build"]["dockerfile"] == "Dockerfile", name
        assert SERVICES[name]["image"] == SERVICES["api"]["image"], name
    assert "/readyz" in " ".join(SERVICES["api"]["healthcheck"]["test"])


def test_train_is_a_one_shot_job_under_its_own_profile() -> None:
    train = SERVICES["train"]
    assert train["profiles"] == ["train"]
    assert train["restart"] == "no"
    assert train["command"] == ["/app/deploy/train.sh"]
    for name, service in SERVICES.items():
        if name != "train":
            assert "profiles" not in service, f"{name} should start with `docker compose up`"


def test_two_databases_with_their_own_users() -> None:
    postgres = SERVICES["postgres"]
    assert any(str(v).startswith("pgdata:") for v in postgres["volumes"])
    init = [str(v) for v in postgres["volumes"] if "docker-entrypoint-initdb.d" in str(v)]
    assert init, "no init script mounted"
    assert (ROOT / init[0].split(":")[0]).is_file()
    command_line = SERVICES["mlflow"]["command"]
    backend = make_url(next(p.split("=", 1)[1] for p in command_line if "backend-store" in p))
    audit = make_url(environment("api")["TARVE_DATABASE_URL"])
    assert backend.get_backend_name() == audit.get_backend_name() == "postgresql"
    assert backend.database != audit.database
    assert backend.username != audit.username
    assert backend.password is None, "passwords go by PGPASSWORD"
    assert audit.password is None, "passwords go by PGPASSWORD"
    variables = environment("postgres")
    assert (variables["MLFLOW_DB_NAME"], variables["MLFLOW_DB_USER"]) == (
        backend.database,
        backend.username,
    )
    assert (variables["TARVE_DB_NAME"], variables["TARVE_DB_USER"]) == (
        audit.database,
        audit.username,
    )
    assert environment("mlflow")["PGPASSWORD"] == variables["MLFLOW_DB_PASSWORD"]
    assert environment("api")["PGPASSWORD"] == variables["TARVE_DB_PASSWORD"]


def test_mlflow_proxies_artifacts_to_a_named_volume() -> None:
    mlflow = SERVICES["mlflow"]
    assert "--serve-artifacts" in mlflow["command"]
    destination = next(p.split("=", 1)[1] for p in mlflow["command"] if "artifacts-dest" in p)
    assert f"mlartifacts:{destination}" in mlflow["volumes"]
    assert set(COMPOSE["volumes"]) >= {"pgdata", "mlartifacts"}


def test_the_api_is_stateless_and_waits_for_healthy_dependencies() -> None:
    api = SERVICES["api"]
    assert "ports" not in api, "a published port stops `--scale api=N`; the proxy publishes"
    assert "container_name" not in api
    assert "volumes" not in api
    assert api["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "mlflow": {"condition": "service_healthy"},
    }
    variables = environment("api")
    assert variables["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert variables["TARVE_MODEL_URI"].endswith("models:/tarve-service-need@production}")
    proxy_config = (ROOT / "deploy" / "nginx" / "tarve.conf.template").read_text("utf-8")
    assert "server api:8000 resolve" in proxy_config
    assert "ssl_certificate" in proxy_config
    mounted = " ".join(SERVICES["proxy"]["volumes"])
    assert "deploy/nginx/tarve.conf.template" in mounted


def test_the_image_is_multi_stage_from_the_lock_and_runs_as_a_non_root_user() -> None:
    build, runtime = stages()[0], runtime_stage()
    assert len(stages()) >= 2
    copied = " ".join(build.values("COPY"))
    assert "requirements.lock" in copied
    assert "requirements.lock" in " ".join(build.values("RUN"))
    users = runtime.values("USER")
    assert users, "no USER in the runtime stage"
    assert users[-1].split(":")[0] not in {"root", "0"}
    (healthcheck,) = runtime.values("HEALTHCHECK")
    assert "/readyz" in healthcheck
    argv = command(runtime)
    assert argv[:3] == ["uvicorn", "--factory", "service.app:create_app"]
    assert "--workers" not in argv, "the worker count comes from WEB_CONCURRENCY"
    assert "--no-access-log" in argv
    assert "WEB_CONCURRENCY" in env(runtime)
    assert not any("--host" in part or "--port" in part for part in argv), "UVICORN_* set them"
    ignored = (ROOT / ".dockerignore").read_text("utf-8").splitlines()
    assert "*" in ignored, "the build context is an allow-list"
    assert not any(line.strip() in {"!.env", "!.env.*"} for line in ignored)
    for source in ("deploy/logging.yaml", "deploy/train.sh"):
        assert f"!{source}" in ignored
        assert (ROOT / source).is_file()
