"""Rooms, membership, DMs and read markers."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from chat_api import crud
from chat_api.deps import PrincipalDep, SessionDep
from chat_api.models import User
from chat_api.schemas import DmIn, InviteIn, PositiveId, ReadIn, RoomCreateIn, RoomOut, UserOut

router = APIRouter(tags=["rooms"])


@router.post("/rooms", status_code=status.HTTP_201_CREATED, response_model=RoomOut)
async def create_room(body: RoomCreateIn, principal: PrincipalDep, session: SessionDep) -> RoomOut:
    return await crud.rooms.create_room(
        session, creator=principal.user, name=body.name, kind=body.kind
    )


@router.get("/rooms", response_model=list[RoomOut])
async def my_rooms(principal: PrincipalDep, session: SessionDep) -> list[RoomOut]:
    return await crud.rooms.list_for_user(session, user_id=principal.user.id)


@router.get("/rooms/public", response_model=list[RoomOut])
async def public_rooms(_principal: PrincipalDep, session: SessionDep) -> list[RoomOut]:
    return await crud.rooms.list_public(session)


@router.get("/rooms/{room_id}", response_model=RoomOut)
async def get_room(room_id: PositiveId, principal: PrincipalDep, session: SessionDep) -> RoomOut:
    return await crud.rooms.room_view(session, room_id=room_id, user_id=principal.user.id)


@router.get("/rooms/{room_id}/members", response_model=list[UserOut])
async def room_members(
    room_id: PositiveId, principal: PrincipalDep, session: SessionDep
) -> list[User]:
    return await crud.rooms.members(session, room_id=room_id, user_id=principal.user.id)


@router.post("/rooms/{room_id}/join", response_model=RoomOut)
async def join_room(room_id: PositiveId, principal: PrincipalDep, session: SessionDep) -> RoomOut:
    return await crud.rooms.join_public(session, room_id=room_id, user=principal.user)


@router.post("/rooms/{room_id}/leave", status_code=status.HTTP_204_NO_CONTENT)
async def leave_room(room_id: PositiveId, principal: PrincipalDep, session: SessionDep) -> Response:
    await crud.rooms.leave(session, room_id=room_id, user=principal.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/rooms/{room_id}/invite", status_code=status.HTTP_204_NO_CONTENT)
async def invite(
    room_id: PositiveId, body: InviteIn, principal: PrincipalDep, session: SessionDep
) -> Response:
    await crud.rooms.invite(session, room_id=room_id, inviter=principal.user, user_id=body.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/rooms/{room_id}/read", status_code=status.HTTP_204_NO_CONTENT)
async def mark_read(
    room_id: PositiveId, body: ReadIn, principal: PrincipalDep, session: SessionDep
) -> Response:
    await crud.rooms.mark_read(session, room_id=room_id, user_id=principal.user.id, seq=body.seq)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/dms",
    response_model=RoomOut,
    responses={201: {"model": RoomOut, "description": "created"}},
)
async def open_dm(
    body: DmIn, principal: PrincipalDep, session: SessionDep, response: Response
) -> RoomOut:
    room, created = await crud.rooms.get_or_create_dm(
        session, user=principal.user, other_id=body.user_id
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return room
