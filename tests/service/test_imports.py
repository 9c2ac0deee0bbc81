"""service never imports training (checked at run time, next to the static layout test)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_running_the_service_loads_no_training_module(model_dir: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import pkgutil, importlib, sys
        import service
        for module in pkgutil.walk_packages(service.__path__, "service."):
            if ".migrations." in module.name and module.name.endswith(".env"):
                continue
            importlib.import_module(module.name)
        from fastapi.testclient import TestClient
        from service import Settings, create_app
        settings = Settings(
            model_uri={str(model_dir)!r},
            database_url="sqlite:///{tmp_path / "db.sqlite"}",
        )
        with TestClient(create_app(settings)) as client:
            assert client.get("/readyz").status_code == 200
            client.get("/openapi.json")
        loaded = sorted(name for name in sys.modules if name.split(".")[0] == "training")
        print("TRAINING:", loaded)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "TRAINING: []" in result.stdout
