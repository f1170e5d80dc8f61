"""Errors as RFC 9457 problem details (`application/problem+json`).

Every error the API answers is one of these: a `type` URI naming the kind of problem,
its `title`, the HTTP `status`, a `detail` for this occurrence, and for bad input the
`errors` list (each with the field's JSON pointer-like `loc` and a message).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://chatcentral.mx/problems/"


class FieldError(BaseModel):
    """One thing wrong with the request: where (`loc`: "body", "query" or "path" and the
    field's path) and what."""

    loc: list[str | int]
    message: str
    type: str


class Problem(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = Field(default=None)


class ApiProblem(Exception):
    """Raised anywhere below a handler: answered as this problem."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.problem = Problem(
            type=TYPE_BASE + kind,
            title=title,
            status=status,
            detail=detail,
            errors=list(errors) if errors is not None else None,
            **extra,
        )

    def response(self) -> Response:
        return problem_response(self.problem)


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response:
    body = problem.model_dump(mode="json", exclude_none=True)
    return Response(
        json.dumps(body, ensure_ascii=False),
        status_code=problem.status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(401, "unauthorized", "Missing or invalid API key", detail)


def outside_plan(feature: str, plan: str) -> ApiProblem:
    """403: the shop's plan does not include `feature`; `plan` names one that does."""
    return ApiProblem(
        403,
        "outside-plan",
        "Not included in the shop's plan",
        f"{feature} is included in the {plan} plan",
        feature=feature,
        plan=plan,
    )


def not_found(detail: str = "no such resource in this shop") -> ApiProblem:
    return ApiProblem(404, "not-found", "Not found", detail)


def conflict(kind: str, detail: str, **extra: Any) -> ApiProblem:
    return ApiProblem(409, kind, "Conflict with the current state", detail, **extra)


def malformed(detail: str) -> ApiProblem:
    return ApiProblem(400, "malformed-request", "Malformed request", detail)


def invalid(
    errors: Sequence[FieldError], detail: str = "the request has invalid fields"
) -> ApiProblem:
    return ApiProblem(422, "validation", "Invalid request", detail, errors=errors)


def from_validation(exc: ValidationError, where: str) -> ApiProblem:
    """422 naming each bad field of the body, query or path (`where`)."""
    errors = [
        FieldError(loc=[where, *error["loc"]], message=error["msg"], type=error["type"])
        for error in exc.errors(include_url=False, include_input=False)
    ]
    return invalid(errors)
