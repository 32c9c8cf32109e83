"""`/v2/messages`: look a message up, cancel one, or cancel many (reference §2.4). A
namespace token may look up its namespace's topic messages (others are not found to it);
cancelling takes an admin token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from herald_core.errors import NotFound
from herald_core.messages import Messages
from herald_core.models import Message
from herald_gateway.api.filters import MESSAGES, parse
from herald_gateway.api.routes._common import (
    authorized,
    json_object,
    json_response,
    now_ms,
    state,
)
from herald_gateway.api.tenancy import authenticate, message_namespace, visible
from herald_gateway.api.views import message_view


async def get_message(request: Request) -> Response:
    st = state(request)
    caller = await authenticate(request, st)
    message_id = request.path_params["message_id"]
    found = await Messages(st["store"]).get(message_id)
    if found is None or not visible(caller, message_namespace(found.message)):
        raise NotFound(f"message {message_id} not found")
    return json_response(message_view(found.message, found.body))


async def cancel_message(request: Request) -> Response:
    messages = Messages(authorized(request)["store"])
    message_id = request.path_params["message_id"]
    if not messages.owns(message_id):
        raise NotFound(f"message {message_id} not found")
    if not await messages.cancel([message_id], now_ms(request)):
        raise NotFound(f"message {message_id} not found (delivered, failed or cancelled)")
    return json_response({"cancelled": 1})


async def cancel_many(request: Request) -> Response:
    """Filters (herald_gateway.api.filters) in the query or a JSON body such as the Python SDK's
    `{"messageIds": [...]}`; no filter at all cancels every pending message (`count` caps it).

    Cancelled: those named by `messageIds` (else every pending one) that match every other
    filter, at most `count` of them."""
    messages = Messages(authorized(request)["store"])
    filters = parse(MESSAGES, request.query_params.multi_items(), await json_object(request))

    def keep(message: Message) -> bool:
        return filters.matches(message_view(message))

    # read only what the filters need to look at
    chosen = await messages.select(
        None if filters.only("messageIds") else keep, filters.count, filters.get("messageIds")
    )
    return json_response({"cancelled": await messages.cancel(chosen, now_ms(request))})
