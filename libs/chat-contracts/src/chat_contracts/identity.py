"""The internal `/validate-token` exchange: the gateway asks, the API answers.

200 `{valid: true, ...}` for a live access token; 401 `{valid: false, reason}` for any
token that does not validate (empty, malformed, expired, revoked). The gateway parses the
answer with this model, so a field the API renames fails in tests/contract, not at runtime.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from chat_contracts.limits import TOKEN_MAX

VALIDATE_TOKEN_PATH = "/validate-token"


class ValidateTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # No minimum: an empty token is a token that does not validate (401 {valid: false}),
    # not a malformed request.
    token: Annotated[str, Field(max_length=TOKEN_MAX)]


class ValidateTokenOut(BaseModel):
    valid: bool
    user_id: int | None = None
    username: str | None = None
    display_name: str | None = None
    exp: int | None = None
    sid: str | None = None
    jti: str | None = None
    # The head of the user's event stream: a socket with no cursor of its own resumes from it.
    user_seq: int | None = None
    reason: str | None = None
