"""The naive baseline: a pandas one-row frame into ``shap.TreeExplainer`` per request.

What a first version of the API typically looks like: the profile becomes a one-row
DataFrame, and for every service a ``shap.TreeExplainer`` explains it. Mode
``per_request`` (``NAIVE_MODE``) builds the explainers on every request; mode
``cached`` builds them once at startup and keeps only the per-request pandas path.
No keys, no audit log, no validation beyond the encoder's: it does less than tarve.
Run with ``uvicorn bench.naive_server:create_naive_app --factory``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pandas as pd
import shap
from fastapi import Body, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.model import ServiceNeedModel


class ServerTiming:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - started) * 1000
                headers = [
                    *message.get("headers", []),
                    (b"server-timing", f"app;dur={elapsed:.3f}".encode()),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed)


def create_naive_app() -> FastAPI:
    model = ServiceNeedModel.load(os.environ["NAIVE_MODEL_DIR"])
    per_request = os.environ.get("NAIVE_MODE", "per_request") == "per_request"
    fields = model.encoder.fields
    names = model.encoder.feature_names
    consent_fields = {
        spec.name: spec.source
        for spec in fields
        if model.schema.sources.get(spec.source) is not None
        and model.schema.sources[spec.source].consent_required
    }
    protected = {i for i, spec in enumerate(fields) if spec.protected}
    cached = (
        {} if per_request else {s: shap.TreeExplainer(model.boosters[s]) for s in model.services}
    )
    app = FastAPI()
    app.add_middleware(ServerTiming)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/recommendations")
    def recommend(body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        consents = set(body.get("consents", []))
        frame = pd.DataFrame([body["profile"]])
        for spec in fields:
            if spec.name not in frame.columns or consent_fields.get(spec.name, "") not in (
                "",
                *consents,
            ):
                frame[spec.name] = None
        features = pd.DataFrame(model.encoder.encode_frame(frame), columns=names)
        suggestions: list[dict[str, Any]] = []
        for service in model.services:
            booster = model.boosters[service]
            explainer = cached.get(service) or shap.TreeExplainer(booster)
            values = np.asarray(explainer.shap_values(features)).reshape(1, -1)[0]
            raw = float(booster.predict(features, raw_score=True)[0])
            probability = float(model.calibrators[service].transform(np.array([raw]))[0])
            order = [i for i in np.argsort(-np.abs(values)) if i not in protected][:5]
            suggestions.append(
                {
                    "service": service,
                    "probability": probability,
                    "recommended": probability >= model.thresholds[service],
                    "reasons": [
                        {"field": names[i], "contribution": float(values[i])} for i in order
                    ],
                }
            )
        suggestions.sort(key=lambda s: -float(s["probability"]))
        return {"suggestions": suggestions}

    return app
