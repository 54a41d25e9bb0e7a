"""Send (idempotent), history (cursor pages), edit, soft delete. Publishes after commit."""

from __future__ import annotations

from typing import Annotated

from chat_contracts.events import EventType, MessageData
from chat_contracts.limits import PAGE_MAX
from fastapi import APIRouter, Query, Response, status

from chat_api import crud, metrics
from chat_api.deps import PrincipalDep, SessionDep, StateDep
from chat_api.publisher import publish_message
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
    message, created = await crud.messages.create(
        session,
        sender_id=principal.user.id,
        room_id=body.room_id,
        content=body.content,
        client_msg_id=body.client_msg_id,
    )
    if created:
        metrics.MESSAGES_STORED.inc()
        await publish_message(state.publisher, EventType.MESSAGE_CREATED, message)
    else:
        response.status_code = status.HTTP_200_OK
    return message


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
    rows, has_more = await crud.messages.page(
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
    message = await crud.messages.edit(
        session, message_id=message_id, user=principal.user, content=body.content
    )
    await publish_message(state.publisher, EventType.MESSAGE_UPDATED, message)
    return message


@router.delete("/{message_id}", response_model=MessageData)
async def delete(
    message_id: PositiveId, principal: PrincipalDep, session: SessionDep, state: StateDep
) -> MessageData:
    message = await crud.messages.soft_delete(session, message_id=message_id, user=principal.user)
    await publish_message(state.publisher, EventType.MESSAGE_DELETED, message)
    return message
