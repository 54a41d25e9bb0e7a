"""Send (idempotent), history (cursor pages), edit, soft delete: thin over the actions."""

from __future__ import annotations

from typing import Annotated

from chat_contracts.events import MessageData
from chat_contracts.limits import PAGE_MAX
from fastapi import APIRouter, Query, Response, status

from chat_api.actions import messages as message_actions, sends
from chat_api.deps import PrincipalDep, SessionDep, StateDep
from chat_api.errors import DomainError
from chat_api.queries import messages as message_queries
from chat_api.schemas import MAX_ID, MessageEditIn, MessageIn, MessagePage, PositiveId

router = APIRouter(prefix="/messages", tags=["messages"])
SeqParam = Annotated[int | None, Query(ge=0, le=MAX_ID)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MessageData,
    responses={200: {"model": MessageData, "description": "already stored (same client_msg_id)"}},
)
async def send(
    body: MessageIn,
    principal: PrincipalDep,
    session: SessionDep,
    state: StateDep,
    response: Response,
) -> MessageData:
    result = await sends.send_one(
        session, state.publisher, claims=principal.claims, token=principal.token, body=body
    )
    if result.message is None:
        raise DomainError.with_status(result.status, result.detail or "refused")
    response.status_code = result.status
    return result.message


@router.get("", response_model=MessagePage)
async def history(
    principal: PrincipalDep,
    session: SessionDep,
    state: StateDep,
    room_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    before: SeqParam = None,
    after: SeqParam = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
) -> MessagePage:
    rows, has_more = await message_queries.page(
        session,
        user_id=principal.user.id,
        room_id=room_id,
        before=before,
        after=after,
        limit=min(limit, state.settings.message_history_max_limit),
    )
    return MessagePage(messages=rows, has_more=has_more)


@router.patch("/{message_id}", response_model=MessageData)
async def edit(
    message_id: PositiveId,
    body: MessageEditIn,
    principal: PrincipalDep,
    session: SessionDep,
    state: StateDep,
) -> MessageData:
    return await message_actions.edit(
        session, state.publisher, message_id=message_id, user=principal.user, content=body.content
    )


@router.delete("/{message_id}", response_model=MessageData)
async def delete(
    message_id: PositiveId, principal: PrincipalDep, session: SessionDep, state: StateDep
) -> MessageData:
    return await message_actions.delete(
        session, state.publisher, message_id=message_id, user=principal.user
    )
