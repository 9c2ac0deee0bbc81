"""``GET /v1/model/explanations``: what drives each service's score, for the whole population.

Training stores, per service, the mean absolute TreeSHAP contribution of every input
field on the test split, the direction of its effect and the share carried by the
protected attributes (see :mod:`training.explanations`); this route serves them to
caseworkers and auditors. A model trained before these were kept answers 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from service.auth import Principal, Role, require_roles
from service.deps import ServedModelDep
from service.problems import NotFound
from service.responses import ModelRef, PopulationExplanations, problem_responses

router = APIRouter(prefix="/v1", tags=["catalogue"])
CaseworkerOrAuditorDep = Annotated[Principal, Depends(require_roles(Role.CASEWORKER, Role.AUDITOR))]
MSG_NO_EXPLANATIONS = (
    "model {name!r} version {version!r} was trained without whole-population explanations; "
    "retrain it to get them"
)


@router.get(
    "/model/explanations",
    response_model=PopulationExplanations,
    summary="Mean |SHAP| per field and service on the test split, with directions",
    responses=problem_responses(401, 403, 404, 503),
)
def get_explanations(  # noqa: D103
    caller: CaseworkerOrAuditorDep, served: ServedModelDep
) -> dict[str, Any]:
    del caller
    stored = served.model.metadata.get("population_explanations")
    if not stored:
        raise NotFound(MSG_NO_EXPLANATIONS.format(name=served.name, version=served.version))
    return {"model": ModelRef.of(served).model_dump(), **stored}
