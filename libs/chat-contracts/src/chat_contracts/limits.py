"""Wire limits, defined once: the API's schemas, the gateway's frames and the browser's
generated protocol.js (see jsgen.py) all read them from here."""

from __future__ import annotations

from typing import Final

CONTENT_MAX: Final = 4000  # characters of a message body
CLIENT_MSG_ID_MAX: Final = 64  # the sender's idempotency key
PAGE_MAX: Final = 200  # messages per history page, and per resume/fetch replay page
TOKEN_MAX: Final = 4096  # an access token as sent to `auth` or /validate-token
RESUME_ROOMS_MAX: Final = 500  # rooms in one `resume` frame
NAME_MAX: Final = 64  # a display name or room name
TOPIC_MAX: Final = 250  # a room's topic
# Ids and seqs: JavaScript reads numbers as doubles, so nothing above 2**53 - 1 round-trips.
ID_MAX: Final = 2**53 - 1
