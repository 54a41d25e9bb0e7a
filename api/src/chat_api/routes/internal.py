"""Service-only routes, served on the internal port that no ingress routes."""

from __future__ import annotations

from chat_contracts.batch import BATCH_PATH, StoreBatchIn, StoreBatchOut
from chat_contracts.events import EventType
from chat_contracts.identity import VALIDATE_TOKEN_PATH, ValidateTokenIn, ValidateTokenOut
from chat_contracts.tokens import InvalidTokenError, TokenClaims, TokenType
from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chat_api import crud, metrics
from chat_api.deps import SessionDep, StateDep
from chat_api.publisher import publish_messages

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
    user = await crud.users.active_user_for_claims(session, claims)
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
    )


@router.post(BATCH_PATH, response_model=StoreBatchOut)
async def store_batch(body: StoreBatchIn, session: SessionDep, state: StateDep) -> Response:
    """Each item answered as `POST /api/messages` would answer it alone (results[i] ~ items[i])."""

    def decode(token: str) -> TokenClaims:
        return state.tokens.decode(token, TokenType.ACCESS)

    outcome = await crud.batch.store(session, items=body.items, decode=decode)
    if outcome.created:
        metrics.MESSAGES_STORED.inc(len(outcome.created))
        await publish_messages(state.publisher, EventType.MESSAGE_CREATED, outcome.created)
    # Serialized once by pydantic-core; re-validating hundreds of results would cost more.
    out = StoreBatchOut(results=outcome.results)
    return Response(out.model_dump_json(exclude_none=False), media_type="application/json")


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
