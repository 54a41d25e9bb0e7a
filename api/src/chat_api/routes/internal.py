"""Service-only routes, served on the internal port that no ingress routes."""

from __future__ import annotations

from typing import Annotated

from chat_contracts.batch import BATCH_PATH, StoreBatchIn, StoreBatchOut
from chat_contracts.events import EVENTS_STREAM_PATH
from chat_contracts.identity import VALIDATE_TOKEN_PATH, ValidateTokenIn, ValidateTokenOut
from chat_contracts.tokens import InvalidTokenError, TokenClaims, TokenType
from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chat_api import metrics
from chat_api.actions import sends
from chat_api.deps import SessionDep, StateDep
from chat_api.hub import LocalHub
from chat_api.queries import users
from chat_api.schemas import MAX_ID

router = APIRouter(tags=["internal"])


@router.post(
    VALIDATE_TOKEN_PATH,
    response_model=ValidateTokenOut,
    responses={401: {"model": ValidateTokenOut}},
)
async def validate_token(
    body: ValidateTokenIn, session: SessionDep, state: StateDep
) -> ValidateTokenOut | JSONResponse:
    def invalid(reason: str) -> JSONResponse:
        out = ValidateTokenOut(valid=False, reason=reason)
        return JSONResponse(out.model_dump(), status_code=status.HTTP_401_UNAUTHORIZED)

    try:
        claims = state.tokens.decode(body.token, TokenType.ACCESS)
    except InvalidTokenError as exc:
        return invalid(str(exc))
    user = await users.active_user_for_claims(session, claims)
    if user is None:
        return invalid("token revoked")
    return ValidateTokenOut(
        valid=True,
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        exp=claims.exp,
        sid=claims.sid,
        jti=claims.jti,
        user_seq=user.last_event_seq,
    )


@router.post(BATCH_PATH, response_model=StoreBatchOut)
async def store_batch(body: StoreBatchIn, session: SessionDep, state: StateDep) -> Response:
    """Each item answered as `POST /api/messages` would answer it alone (results[i] ~ items[i])."""

    def decode(token: str) -> TokenClaims:
        return state.tokens.decode(token, TokenType.ACCESS)

    outcome = await sends.store(session, state.publisher, items=body.items, decode=decode)
    # Serialized once by pydantic-core; re-validating hundreds of results would cost more.
    out = StoreBatchOut(results=outcome.results)
    return Response(out.model_dump_json(exclude_none=False), media_type="application/json")


# Not in the OpenAPI schema: a response that never ends would hang schemathesis' runs;
# its bad-input cases are in api/tests/test_hub.py.
@router.get(EVENTS_STREAM_PATH, include_in_schema=False)
async def events_stream(
    state: StateDep,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    hub: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> StreamingResponse:
    """NDJSON of every event this process commits, for gateways when there is no Redis."""
    if not isinstance(state.publisher, LocalHub):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "events are published to Redis")
    stream = state.publisher.stream(after, hub)
    return StreamingResponse(stream, media_type="application/x-ndjson")


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(state: StateDep) -> Response:
    pool = state.engine.pool
    checked_out = getattr(pool, "checkedout", None)
    size = getattr(pool, "size", None)
    if callable(checked_out):
        metrics.DB_POOL_CHECKED_OUT.set(checked_out())
    if callable(size):
        metrics.DB_POOL_SIZE.set(size())
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
