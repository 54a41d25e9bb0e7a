"""Rooms, membership, DMs, read markers and the room event stream: thin over the actions."""

from __future__ import annotations

from typing import Annotated

from chat_contracts.events import EventPage
from chat_contracts.limits import PAGE_MAX
from fastapi import APIRouter, Query, Response, status

from chat_api.actions import reads, rooms as room_actions
from chat_api.deps import PrincipalDep, SessionDep, StateDep
from chat_api.models import User
from chat_api.queries import events, rooms as room_queries
from chat_api.schemas import (
    MAX_ID,
    DmIn,
    InviteIn,
    PositiveId,
    ReadIn,
    ReadOut,
    RoomCreateIn,
    RoomOut,
    RoomUpdateIn,
    UserOut,
)

router = APIRouter(tags=["rooms"])
After = Annotated[int, Query(ge=0, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=PAGE_MAX)]
NO_CONTENT = status.HTTP_204_NO_CONTENT


@router.post("/rooms", status_code=status.HTTP_201_CREATED, response_model=RoomOut)
async def create_room(
    body: RoomCreateIn, principal: PrincipalDep, session: SessionDep, state: StateDep
) -> RoomOut:
    return await room_actions.create_room(
        session, state.publisher, creator=principal.user, name=body.name, kind=body.kind
    )


@router.get("/rooms", response_model=list[RoomOut])
async def my_rooms(principal: PrincipalDep, session: SessionDep) -> list[RoomOut]:
    return await room_queries.list_for_user(session, user_id=principal.user.id)


@router.get("/rooms/public", response_model=list[RoomOut])
async def public_rooms(_principal: PrincipalDep, session: SessionDep) -> list[RoomOut]:
    return await room_queries.list_public(session)


@router.get("/rooms/{room_id}", response_model=RoomOut)
async def get_room(room_id: PositiveId, principal: PrincipalDep, session: SessionDep) -> RoomOut:
    return await room_queries.room_view(session, room_id=room_id, user_id=principal.user.id)


@router.patch("/rooms/{room_id}", response_model=RoomOut)
async def update_room(
    room_id: PositiveId,
    body: RoomUpdateIn,
    principal: PrincipalDep,
    session: SessionDep,
    state: StateDep,
) -> RoomOut:
    return await room_actions.update_room(
        session,
        state.publisher,
        room_id=room_id,
        user=principal.user,
        name=body.name,
        topic=body.topic,
    )


@router.get("/rooms/{room_id}/events", response_model=EventPage)
async def room_events(
    room_id: PositiveId,
    principal: PrincipalDep,
    session: SessionDep,
    after: After = 0,
    limit: Limit = PAGE_MAX,
) -> EventPage:
    """The room's events after `after` (an event seq): each changed message once, current."""
    return await events.room_events(
        session, user_id=principal.user.id, room_id=room_id, after=after, limit=limit
    )


@router.get("/rooms/{room_id}/members", response_model=list[UserOut])
async def room_members(
    room_id: PositiveId, principal: PrincipalDep, session: SessionDep
) -> list[User]:
    return await room_queries.members(session, room_id=room_id, user_id=principal.user.id)


@router.delete("/rooms/{room_id}/members/{user_id}", status_code=NO_CONTENT)
async def remove_member(
    room_id: PositiveId,
    user_id: PositiveId,
    principal: PrincipalDep,
    session: SessionDep,
    state: StateDep,
) -> Response:
    await room_actions.remove_member(
        session, state.publisher, room_id=room_id, actor=principal.user, user_id=user_id
    )
    return Response(status_code=NO_CONTENT)


@router.post("/rooms/{room_id}/join", response_model=RoomOut)
async def join_room(
    room_id: PositiveId, principal: PrincipalDep, session: SessionDep, state: StateDep
) -> RoomOut:
    return await room_actions.join_public(
        session, state.publisher, room_id=room_id, user=principal.user
    )


@router.post("/rooms/{room_id}/leave", status_code=NO_CONTENT)
async def leave_room(
    room_id: PositiveId, principal: PrincipalDep, session: SessionDep, state: StateDep
) -> Response:
    await room_actions.leave(session, state.publisher, room_id=room_id, user=principal.user)
    return Response(status_code=NO_CONTENT)


@router.post("/rooms/{room_id}/invite", status_code=NO_CONTENT)
async def invite(
    room_id: PositiveId,
    body: InviteIn,
    principal: PrincipalDep,
    session: SessionDep,
    state: StateDep,
) -> Response:
    await room_actions.invite(
        session, state.publisher, room_id=room_id, inviter=principal.user, user_id=body.user_id
    )
    return Response(status_code=NO_CONTENT)


@router.put("/rooms/{room_id}/read", response_model=ReadOut)
async def mark_read(
    room_id: PositiveId, body: ReadIn, principal: PrincipalDep, session: SessionDep, state: StateDep
) -> ReadOut:
    """Moves the marker forward (never back); answers the marker and unread count after."""
    return await reads.mark_read(
        session, state.publisher, room_id=room_id, user_id=principal.user.id, seq=body.seq
    )


@router.post(
    "/dms",
    response_model=RoomOut,
    responses={201: {"model": RoomOut, "description": "created"}},
)
async def open_dm(
    body: DmIn, principal: PrincipalDep, session: SessionDep, state: StateDep, response: Response
) -> RoomOut:
    room, created = await room_actions.open_dm(
        session, state.publisher, user=principal.user, other_id=body.user_id
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return room
