// Generated from libs/chat-contracts by `make protocol-js`; do not edit.
// The Python contracts are the source: change them and regenerate.

export const PROTOCOL_VERSION = 2;

export const LIMITS = Object.freeze({
  CONTENT_MAX: 4000,
  CLIENT_MSG_ID_MAX: 64,
  PAGE_MAX: 200,
  TOKEN_MAX: 4096,
  RESUME_ROOMS_MAX: 500,
  NAME_MAX: 64,
  TOPIC_MAX: 250,
  ID_MAX: 9007199254740991,
});

export const CLIENT_FRAMES = Object.freeze({
  AUTH: "auth",
  JOIN: "join",
  LEAVE: "leave",
  MESSAGE: "message",
  EDIT: "edit",
  DELETE: "delete",
  TYPING: "typing",
  PRESENCE: "presence",
  RESUME: "resume",
  FETCH: "fetch",
});

export const SERVER_FRAMES = Object.freeze({
  AUTH_OK: "auth_ok",
  REAUTH_REQUIRED: "reauth_required",
  JOINED: "joined",
  LEFT: "left",
  RESUMED: "resumed",
  RESET: "reset",
  FETCHED: "fetched",
  EVENT: "event",
  USER_EVENT: "user_event",
  USER_RESUMED: "user_resumed",
  ACK: "ack",
  NACK: "nack",
  PRESENCE: "presence",
  TYPING: "typing",
  ERROR: "error",
});

export const EVENTS = Object.freeze({
  MESSAGE_CREATED: "message.created",
  MESSAGE_UPDATED: "message.updated",
  MESSAGE_DELETED: "message.deleted",
  MEMBER_JOINED: "member.joined",
  MEMBER_LEFT: "member.left",
  MEMBER_INVITED: "member.invited",
  MEMBER_REMOVED: "member.removed",
  ROOM_UPDATED: "room.updated",
  ROOM_ADDED: "room.added",
  ROOM_REMOVED: "room.removed",
  USER_UPDATED: "user.updated",
  READ_MOVED: "read.moved",
  SESSION_REVOKED: "session.revoked",
  PROBE: "probe",
});

export const ERROR_CODES = Object.freeze({
  BAD_JSON: "bad_json",
  BAD_FRAME: "bad_frame",
  UNKNOWN_TYPE: "unknown_type",
  BINARY_FRAME: "binary_frame",
  RATE_LIMITED: "rate_limited",
  NOT_JOINED: "not_joined",
  FORBIDDEN: "forbidden",
  NOT_FOUND: "not_found",
  API_ERROR: "api_error",
  UNAVAILABLE: "unavailable",
  AUTH_FAILED: "auth_failed",
});

export const CLOSE_CODES = Object.freeze({
  GOING_AWAY: 1001,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
});
