#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Fake WhatsApp Business Cloud API (Meta Graph) for ferry's tests and sandbox.

Run:  /usr/bin/python3 tests/fakes/fake_cloudapi.py --port 0 --app-secret S \
          --webhook-url http://127.0.0.1:8480/webhook/cloudapi --verify-token T \
          [--host 127.0.0.1] [--account PNID:TOKEN:DISPLAY[:NAME]]... \
          [--config JSON] [--sandbox] [--verbose]
It prints "READY <port>" on stdout once listening (--port 0 picks a free port).
Import: FakeCloudAPI (async start()/stop()), or FakeThread (sync start()/stop()
on a private event loop) and ControlClient (a urllib client for /_control/).

Graph side (any /vN.M/ prefix; Authorization: Bearer <token> only):
  GET    /vN.M/{pnid}[?fields=a,b]  business number info
  POST   /vN.M/{pnid}/messages      send / mark read / typing indicator
  POST   /vN.M/{pnid}/media         multipart upload (messaging_product, file, type)
  GET    /vN.M/{waba_id}/message_templates   templates of a WABA (part E.2):
         fields= (default name, parameter_format, components, language,
         status, category, sub_category, id; also rejected_reason,
         quality_score, ...), filters status, category, language, name,
         quality_score (comma lists, any case), content, name_or_content;
         limit= (default 25), after=/before= cursors, paging.next/previous
         (absent on the last/first page), summary=total_count,
         message_template_count, message_template_limit. Bad or missing
         token: 401/190 (463 if expired); a WABA none of the token's
         numbers belongs to: 400/100/33; no whatsapp_business_management
         scope: 403/200.
  GET    /vN.M/{template_id}[?fields=status]   one template (same fields)
  GET    /vN.M/{media_id}           media info with a fresh download url
  DELETE /vN.M/{media_id}           {"success": true}
  GET    /whatsapp_business/attachments/?mid=..&ext=..&hash=..   download
         (needs the owner's Bearer token: 401 without; 404 once expired)
Only message sends (not mark-read) use the mps and pair buckets.
A send is checked in this order: token (401/190), pnid (400/100/33), fail
rules and `transient` (before everything else), maintenance (131057),
validation (100, 131021; templates: see below), mps (130429), pair
(131056). It is then accepted (200) and its statuses follow as webhooks, or
one `failed` status: undeliverable (131026), outside the window (131047;
400 if window_sync), reaction to an unknown wamid (131009), unknown media id
(131053).

Templates: each account belongs to a WABA (waba_id, default "1022" + the
last 11 digits of the pnid), which is the entry[].id of its webhooks. Once
a WABA has templates in the store (POST /_control/templates, even an empty
list), a `type: template` send on its numbers is checked against them, in
this order (part E.3): name + language.code matching exactly, else 132001
(404); status: PAUSED 132015, DISABLED 132016, any other but APPROVED
132001; a media header (IMAGE/VIDEO/DOCUMENT) without its parameter of that
type: 132012 "header: Format mismatch, expected IMAGE, received UNKNOWN"
(and a file for a TEXT header: "expected TEXT, received IMAGE");
parameter_name sent to a POSITIONAL template, missing for a NAMED one, or
naming no placeholder: 132012; header/body parameter count: 132000 ("body:
number of localizable_params (1) does not match the expected number of
params (3)"); newline/tab or more than 4 spaces in a text parameter: 132018;
header parameters to a template without a header: 132000; a button
(sub_type url | quick_reply | copy_code, index as a string or a number) at
an index the template does not have, or whose sub_type is not that
button's type: 131009; a button parameter of the wrong type (url: text,
quick_reply: payload, copy_code: coupon_code): 132012 ("buttons: Format
mismatch, expected PAYLOAD, received TEXT"), more parameters than the
button takes (a URL without a variable takes none): 132000; a URL button
with a variable, or a COPY_CODE button, without its parameter: 131008
("buttons: Button at index 0 of type Url requires a parameter"); the
filled body over 1024 characters: 132005.
Templates are allowed outside the 24-hour window; their sent statuses carry
the template's category in pricing. Before any template is set, the config
`templates` list applies (None: any name).

Control API (JSON in, JSON out; an error answers 400 {"error": "..."}):
  GET  /_control/state      config, accounts, pending fail rules, counters
  GET  /_control/accounts   list of accounts
  POST /_control/accounts   {pnid, token, display_phone_number, verified_name?,
                             waba_id?, country_code?, expired?, scopes?}
                             (upsert; scopes default to both
                             whatsapp_business_management and _messaging)
  POST /_control/config     any subset of the Config fields below; answers the
                             whole config
  POST /_control/reset      back to the start-up state (CLI accounts/config)
  POST /_control/fail       {count=1, error: FAULT, path_contains?, method?}:
                             the next `count` matching Graph requests fail
  GET  /_control/requests   ?path_contains= ?method= ?since=<seq>: recorded
                             Graph requests {seq, time, method, path, query,
                             headers, json, body, status, response}; status
                             and response stay null for a dropped request;
                             handled_status: with an "after" fault, the
                             status the request really got
  GET  /_control/sent       ?pnid= ?to=<wa_id> ?since=<seq>: accepted sends
                             {seq, wamid, pnid, to, wa_id, type, payload, body,
                             context, outcome, time, rendered, template};
                             rendered: a checked template's text as the
                             customer sees it (header text, body, footer,
                             "\n"-joined), template: {name, language, id,
                             category, header, body, footer, buttons: [{type,
                             text, url?, payload?, coupon_code?}], text}
                             (both null otherwise); header: the text, or
                             {image|video|document: {link|id, filename?}}
  GET  /_control/reads      ?pnid=: mark-read / typing requests
  POST /_control/inbound    one message spec (below), plus duplicate:n (extra
                             identical POSTs), signature: SIG, retry: bool,
                             wait: "first"|"final"|"none", layout, or
                             batch: [message or status specs] for one POST;
                             answers {wamids, media_ids, delivery}
  POST /_control/status     {pnid?, wamid, status, errors? | error: code,
                             recipient_id?, biz_opaque_callback_data?} or
                             {statuses: [...]}: one POST; same delivery options
  POST /_control/webhook/raw {body: str, signature: SIG, retry?, wait?}
  GET  /_control/deliveries ?since=<id> ?kind= ?wamid=: webhook POSTs {id, copy,
                             kind, wamids, body, signature, attempts: [{n,
                             status, error, time}], status, ok, done}
  POST /_control/verify     {verify_token?, challenge?, mode?, omit?: [param]}
                             -> {url, challenge, status, body, ok}
  POST /_control/window     {wa_id, open: bool, pnid?}
  GET  /_control/media      ?id=: stored media incl. data_b64
  POST /_control/idle       {timeout=5}: wait until no webhook work is pending
  GET  /_control/templates  ?waba_id= | ?pnid=: {waba_id, templates}
  POST /_control/templates  {waba_id? | pnid?, templates: [TEMPLATE] |
                             template: TEMPLATE, replace?: bool}: add or
                             replace by (name, language); replace: true
                             drops the others first; answers the WABA's list
  POST /_control/templates/status  {waba_id? | pnid?, name, language?,
                             status? | event?, reason?, other_info?,
                             disable_info?, rejection_info?, rejected_reason?,
                             quality_score?, webhook?: bool, language_dash?}:
                             change the status (event REINSTATED/UNARCHIVED
                             -> APPROVED, FLAGGED/LOCKED keep it); with
                             webhook, one message_template_status_update POST
                             (entry id = WABA id, integer time and
                             message_template_id; language_dash writes en-US)
                             with the delivery options of /inbound; answers
                             {template, delivery?}

  TEMPLATE = the list API's shape: {name (^[a-z0-9_]+$), language="en_US",
          status="APPROVED", category="UTILITY", parameter_format=
          "POSITIONAL"|"NAMED", components: [{type: HEADER, format: TEXT|
          IMAGE|VIDEO|DOCUMENT|LOCATION, text?}, {type: BODY, text},
          {type: FOOTER, text}, {type: BUTTONS, buttons: [{type: URL, text,
          url (with {{1}} at the end for a variable)} | {type: QUICK_REPLY,
          text} | ...]}], sub_category?, id? (generated), any other field}
  SIG   = "good" | "bad" (wrong secret) | "upper" ("SHA256=" prefix) |
          "upperhex" | "none" (no header) | "tamper" (one byte changed after
          signing)
  FAULT = an error code (131000, 2, 130429, 190, ...), "html502", "empty",
          "truncated" (cut-off JSON), "drop" (connection closed), "hang" (no
          answer for `seconds`, default 600, then 504), "garbled200" (200
          with a body that is not JSON), or {code|kind, http?, retry_after?,
          message?, details?, seconds?, after?}.  With "after": true the
          request is handled first (a send is accepted and recorded, its
          statuses follow) and only its answer is replaced by the fault:
          the request reached WhatsApp, the client cannot know it.

Message spec (POST /_control/inbound, or an item of batch; an item with
"status" and "wamid" is a status spec instead):
  pnid (default: the first account), from (digits or +digits), name,
  type: text | image | video | document | audio | voice | sticker | reaction |
        location | contacts | unsupported | button | interactive | edit |
        revoke | system | errors
  text; caption, filename, mime_type, data (str) | data_b64, media_id,
  with_url, media_url (this URL as the webhook's "url"), animated (media); message_id, emoji (reaction: omit emoji to send
  it absent); latitude, longitude, name_of_place, address, url (location);
  contacts; unsupported_type; payload, button_text (button); interactive |
  button_reply | list_reply; original_message_id, message (inner spec of an
  edit); new_wa_id, body (system); errors (type errors, or value-level errors
  on any type); reply_to, forwarded, frequently_forwarded; id, timestamp;
  extra (merged into the message), contact_extra (merged into contacts[0]).
  Every message opens the 24-hour window of (pnid, from) except system/errors.
  layout: "grouped" (default: one entry per pnid, one change for messages and
  one for statuses), "changes" (one change per item), "entries" (one entry
  per item).

Config fields (POST /_control/config):
  webhook_url, app_secret, verify_token; mps=80, rate_limit_status=400|429,
  rate_limit_retry_after=None, rate_limit_usage_header=False; pair_interval=6,
  pair_burst=45; maintenance=False; transient=None (FAULT on every Graph
  request); slow_ms=0 (answer late, after the side effects); expired_token=False;
  window_enforce=True, window_seconds=86400, window_sync=False;
  undeliverable=[wa_id]; wa_id_rewrites={input digits: wa_id}; templates=None
  (for a WABA without stored templates: None: any name; else the known
  names, others get 132001);
  statuses="all" and number_statuses={wa_id: profile}: profile is "none" |
  "sent" | "delivered" | "all" | "read_before_delivered" | "skip_delivered" |
  a list of statuses; early_statuses=False|True|[wa_id] (statuses delivered
  before the send's HTTP response); status_delay_ms=50; media_url_ttl=300;
  file_size_as_string=True; webhook_max_attempts=5, webhook_backoff=1.0
  (seconds: retries after 1, 2, 4... x backoff), webhook_timeout=10;
  echo_contacts={wa_id: name} (contacts that answer "echo: <text>");
  marketing_blocked={wa_id: code}: a MARKETING template to that contact is
  accepted, then fails with code (131049 per-user marketing limit, 131050
  marketing stopped, 130472 experiment; part E.3).
"""

import argparse
import asyncio
import base64
import dataclasses
import hashlib
import hmac
import itertools
import json
import logging
import re
import secrets
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Optional

import aiohttp
from aiohttp import web

log = logging.getLogger("fake_cloudapi")

# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------

ERRORS = {
    # code: (HTTP status, title, details)
    0: (401, "AuthException", "We were unable to authenticate the app user."),
    1: (400, "An unknown error occurred", "An unknown error occurred."),
    2: (503, "Service temporarily unavailable",
        "Service temporarily unavailable."),
    4: (400, "Application request limit reached",
        "Too many API calls from this application."),
    10: (403, "Application does not have permission for this action",
         "Permission is either not granted or has been removed."),
    100: (400, "Invalid parameter", "Invalid parameter."),
    190: (401, "Access token has expired", "Invalid OAuth access token."),
    200: (403, "Permissions error", "Permission is not granted."),
    368: (403, "Temporarily blocked for policies violations",
          "The account is blocked for policy violations."),
    80007: (400, "Rate limit issues", "The WhatsApp Business Account has "
            "reached its rate limit."),
    131000: (500, "Something went wrong", "Something went wrong."),
    131005: (403, "Access denied",
             "Permission is either not granted or has been removed."),
    131008: (400, "Required parameter is missing",
             "A required parameter is missing."),
    131009: (400, "Parameter value is not valid",
             "One or more parameter values are invalid."),
    131016: (500, "Service unavailable",
             "A service is temporarily unavailable."),
    131021: (400, "Recipient cannot be sender",
             "Sender and recipient phone number is the same."),
    131031: (403, "Account has been locked", "The account is locked."),
    131026: (400, "Message undeliverable", "Message Undeliverable."),
    131047: (400, "Re-engagement message",
             "Message failed to send because more than 24 hours have passed "
             "since the customer last replied to this number."),
    131048: (400, "Spam rate limit hit", "Message failed to send because "
             "there are restrictions on how many messages can be sent from "
             "this phone number."),
    131049: (400, "This message was not delivered to maintain healthy "
             "ecosystem engagement.", "In order to maintain a healthy "
             "ecosystem engagement, the message failed to be delivered."),
    131050: (400, "Unable to deliver the message. This recipient has chosen "
             "to stop receiving marketing messages on WhatsApp from your "
             "business.", "The user stopped marketing messages."),
    131051: (400, "Unsupported message type",
             "Message type is currently not supported."),
    131052: (400, "Media download error",
             "Unable to download the media sent by the user."),
    131053: (400, "Media upload error",
             "Unable to upload the media used in the message."),
    131056: (400, "(Business Account, Consumer Account) pair rate limit hit",
             "Message failed to send because there were too many messages "
             "sent from this phone number to the same phone number in a "
             "short period of time."),
    131057: (500, "Account in maintenance mode",
             "Business Account is in maintenance mode."),
    130429: (400, "Rate limit hit",
             "Cloud API message throughput has been reached."),
    132000: (400, "Number of parameters does not match the expected "
             "number of params", "The number of parameters does not match "
             "the template."),
    132001: (404, "Template name does not exist in the translation",
             "The template name does not exist in the specified language."),
    132005: (400, "Translated text too long",
             "The translated text is too long."),
    132012: (400, "Parameter format does not match format in the created "
             "template", "Parameter format does not match the template."),
    132015: (400, "Template is paused due to low quality, so it cannot be "
             "sent in a template message.", "Template is paused."),
    132016: (400, "Template is disabled due to low quality, so it cannot be "
             "sent in a template message.", "Template is disabled."),
    132018: (400, "There's an issue with the parameters in your template",
             "Param text cannot have new-line/tab characters or more than "
             "4 consecutive spaces"),
}
ERROR_HREF = "/documentation/business-messaging/whatsapp/support/error-codes"

INBOUND_TYPES = ("text", "image", "video", "document", "audio", "voice",
                 "sticker", "reaction", "location", "contacts", "unsupported",
                 "button", "interactive", "edit", "revoke", "system")
SEND_TYPES = ("text", "image", "video", "document", "audio", "sticker",
              "reaction", "location", "contacts", "interactive", "template")
MEDIA_TYPES = ("image", "video", "document", "audio", "sticker")
STATUS_NAMES = ("sent", "delivered", "read", "played", "failed")
STATUS_PROFILES = {
    "none": [],
    "sent": ["sent"],
    "delivered": ["sent", "delivered"],
    "all": ["sent", "delivered", "read"],
    "read_before_delivered": ["sent", "read", "delivered"],
    "skip_delivered": ["sent", "read"],
}
SCOPES = ("whatsapp_business_management", "whatsapp_business_messaging")
SIGNATURE_MODES = ("good", "bad", "upper", "upperhex", "none", "tamper")
RAW_FAULTS = {"html502": 502, "empty": 500, "truncated": 500, "drop": 0,
              "hang": 504, "garbled200": 200}
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_OPAQUE = 512
MB = 1024 * 1024

# mime type -> (media kind, size limit); the upload accepts these only.
UPLOAD_MIME = {
    "audio/aac": ("audio", 16 * MB), "audio/amr": ("audio", 16 * MB),
    "audio/mpeg": ("audio", 16 * MB), "audio/mp4": ("audio", 16 * MB),
    "audio/ogg": ("audio", 16 * MB),
    "image/jpeg": ("image", 5 * MB), "image/png": ("image", 5 * MB),
    "image/webp": ("sticker", 500 * 1024),
    "video/mp4": ("video", 16 * MB), "video/3gpp": ("video", 16 * MB),
    "text/plain": ("document", 100 * MB),
    "application/pdf": ("document", 100 * MB),
    "application/msword": ("document", 100 * MB),
    "application/vnd.ms-excel": ("document", 100 * MB),
    "application/vnd.ms-powerpoint": ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
        ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
        ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.presentationml."
    "presentation": ("document", 100 * MB),
}
INBOUND_MEDIA = {
    # inbound type -> (webhook type, default mime type)
    "image": ("image", "image/jpeg"), "video": ("video", "video/mp4"),
    "document": ("document", "application/pdf"),
    "audio": ("audio", "audio/mpeg"),
    "voice": ("audio", "audio/ogg; codecs=opus"),
    "sticker": ("sticker", "image/webp"),
}
HTML_502 = ("<html><head><title>502 Bad Gateway</title></head><body>"
            "<center><h1>502 Bad Gateway</h1></center></body></html>\n")
DEFAULT_CONTACTS = [{
    "name": {"first_name": "Chandler", "last_name": "Bing",
             "formatted_name": "Chandler Bing"},
    "phones": [{"phone": "+1 555-555-5555", "wa_id": "15555555555",
                "type": "CELL"}],
}]
SANDBOX_ACCOUNT = ("100000000000001", "sandbox-token", "15550000000",
                   "Ferry Sandbox")
SANDBOX_ECHO = ("15550001111", "Sandbox Echo")
SANDBOX_TEMPLATES = [
    {"name": "hello_world", "language": "en_US", "category": "UTILITY",
     "components": [{"type": "HEADER", "format": "TEXT",
                     "text": "Hello World"},
                    {"type": "BODY", "text": "Welcome and congratulations!! "
                     "This message demonstrates your ability to send a "
                     "WhatsApp message notification from the Cloud API."},
                    {"type": "FOOTER", "text": "WhatsApp Business Platform "
                     "sample message"}]},
    {"name": "follow_up", "language": "en", "category": "UTILITY",
     "components": [{"type": "BODY", "text": "Hello {{1}}, this is about "
                     "your message of {{2}}.",
                     "example": {"body_text": [["Ana", "Monday"]]}}]}]
UPLOAD_TTL = 30 * 86400
INBOUND_MEDIA_TTL = 7 * 86400

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def meta_json(obj) -> bytes:
    """Serialise like Meta: ASCII only, \\uXXXX escapes, no spaces."""
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode()


def sign(body: bytes, secret: str) -> str:
    """The X-Hub-Signature-256 value for body."""
    mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return "sha256=" + mac


def digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def now_ts() -> str:
    return str(int(time.time()))


def fbtrace_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(17)).decode()[:23]


_wamid_counter = itertools.count(1)


def new_wamid(wa_id: str) -> str:
    """A unique, realistic looking 'wamid.' + base64 id."""
    seq = next(_wamid_counter).to_bytes(4, "big")
    raw = (b"\x15\x02\x00\x11\x18\x0b" + wa_id.encode()[:15] + b"\x15\x02"
           + seq + secrets.token_bytes(12) + b"\x00")
    return "wamid." + base64.b64encode(raw).decode()


def new_media_id() -> str:
    return str(10 ** 15 + secrets.randbelow(9 * 10 ** 15))


def base_mime(mime: str) -> str:
    return (mime or "").split(";")[0].strip().lower()


def tamper(body: bytes) -> bytes:
    """Change one byte of body and keep it valid JSON (a digit if any)."""
    data = bytearray(body)
    for i in range(len(data) - 1, -1, -1):
        if 0x31 <= data[i] <= 0x39:  # '1'..'9' -> another non-zero digit
            data[i] = data[i] + 1 if data[i] < 0x39 else 0x31
            return bytes(data)
    for i in range(len(data) - 1, -1, -1):
        if chr(data[i]).isalpha():
            data[i] ^= 0x20
            return bytes(data)
    return bytes(data) + b" "


def error_object(code: int, details: Optional[str] = None) -> dict:
    """An asynchronous error as found in statuses[].errors[]."""
    _, title, default = ERRORS.get(code, (400, "Error", "Error."))
    return {"code": code, "title": title, "message": title,
            "error_data": {"details": details or default},
            "href": ERROR_HREF}


def bad_request(text: str) -> web.Response:
    return web.json_response({"error": text}, status=400)


class ControlError(Exception):
    """A bad control request; answered with 400 {"error": ...}."""


# ---------------------------------------------------------------------------
# Graph errors and faults
# ---------------------------------------------------------------------------


class GraphError(Exception):
    """A Graph API error raised by a handler and turned into a response."""

    def __init__(self, code, details=None, *, message=None, http=None,
                 subcode=None, etype="OAuthException", data=True,
                 headers=None):
        super().__init__(code)
        default_http, title, default_details = ERRORS.get(
            code, (400, "Error", "Error."))
        self.code = code
        self.http = http or default_http
        self.headers = headers or {}
        err = {"message": message or f"(#{code}) {title}", "type": etype,
               "code": code}
        if data:
            err["error_data"] = {"messaging_product": "whatsapp",
                                 "details": details or default_details}
        if subcode is not None:
            err["error_subcode"] = subcode
        err["fbtrace_id"] = fbtrace_id()
        self.body = {"error": err}

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.http,
                                 headers=self.headers)


def param_error(text: str, code: int = 100) -> GraphError:
    return GraphError(code, text, message=f"(#{code}) {text}")


def missing_object(obj_id: str, method: str) -> GraphError:
    return GraphError(
        100, subcode=33, etype="GraphMethodException", data=False,
        message=f"Unsupported {method.lower()} request. Object with ID "
        f"'{obj_id}' does not exist, cannot be loaded due to missing "
        "permissions, or does not support this operation. Please read the "
        "Graph API documentation at https://developers.facebook.com/docs/"
        "graph-api")


def invalid_token() -> GraphError:
    return GraphError(190, http=401, data=False, message="Invalid OAuth "
                      "access token - Cannot parse access token")


def expired_token() -> GraphError:
    return GraphError(
        190, http=401, subcode=463, data=False,
        message="Error validating access token: Session has expired on "
        "Friday, 26-Apr-24 06:00:00 PDT. The current time is Sunday, "
        "28-Apr-24 03:40:10 PDT.")


def normalise_fault(spec) -> dict:
    """Turn a FAULT (code, name or dict) into a dict; ControlError if bad."""
    if isinstance(spec, dict):
        fault = dict(spec)
    elif isinstance(spec, str) and not spec.isdigit():
        fault = {"kind": spec}
    else:
        fault = {"code": spec}
    if "kind" in fault and fault["kind"] not in RAW_FAULTS:
        raise ControlError(f"unknown fault kind {fault['kind']!r}")
    if "kind" not in fault:
        try:
            fault["code"] = int(fault["code"])
        except (KeyError, TypeError, ValueError):
            raise ControlError(f"bad fault {spec!r}") from None
    return fault


async def fault_response(request: web.Request, fault: dict) -> web.Response:
    """The response for an injected fault."""
    kind = fault.get("kind")
    http = fault.get("http") or RAW_FAULTS.get(kind)
    if kind == "hang":
        await asyncio.sleep(float(fault.get("seconds", 600)))
        return web.Response(status=http, text="Gateway Timeout")
    if kind == "garbled200":
        return web.Response(status=http, body=b'{"messaging_product":"wha',
                            content_type="application/json")
    if kind == "html502":
        return web.Response(status=http, text=HTML_502,
                            content_type="text/html")
    if kind == "empty":
        return web.Response(status=http, body=b"",
                            content_type="application/json")
    if kind == "truncated":
        body = meta_json(GraphError(131000).body)
        return web.Response(status=http, body=body[:len(body) // 2],
                            content_type="application/json")
    if kind == "drop":
        request["dropped"] = True
        request.transport.abort()
        return web.Response(status=599)
    headers = {}
    if fault.get("retry_after") is not None:
        headers["Retry-After"] = str(fault["retry_after"])
    err = GraphError(fault["code"], fault.get("details"), http=http,
                     message=fault.get("message"), headers=headers)
    return err.response()


# ---------------------------------------------------------------------------
# State: config, accounts, media, windows, logs
# ---------------------------------------------------------------------------


@dataclass
class Config:
    """Every runtime switch; POST /_control/config sets any of them."""
    webhook_url: str = ""
    app_secret: str = ""
    verify_token: str = ""
    mps: float = 80.0
    rate_limit_status: int = 400
    rate_limit_retry_after: Optional[int] = None
    rate_limit_usage_header: bool = False
    pair_interval: float = 6.0
    pair_burst: int = 45
    maintenance: bool = False
    transient: Any = None
    slow_ms: int = 0
    expired_token: bool = False
    window_enforce: bool = True
    window_seconds: float = 86400.0
    window_sync: bool = False
    undeliverable: list = field(default_factory=list)
    wa_id_rewrites: dict = field(default_factory=dict)
    templates: Optional[list] = None
    statuses: Any = "all"
    number_statuses: dict = field(default_factory=dict)
    early_statuses: Any = False
    status_delay_ms: int = 50
    media_url_ttl: float = 300.0
    file_size_as_string: bool = True
    webhook_max_attempts: int = 5
    webhook_backoff: float = 1.0
    webhook_timeout: float = 10.0
    echo_contacts: dict = field(default_factory=dict)
    marketing_blocked: dict = field(default_factory=dict)

    def update(self, changes: dict) -> None:
        """Apply changes after checking names and the few enumerations."""
        for key, value in changes.items():
            if key not in {f.name for f in dataclasses.fields(self)}:
                raise ControlError(f"unknown config key {key!r}")
        if changes.get("rate_limit_status", 400) not in (400, 429):
            raise ControlError("rate_limit_status must be 400 or 429")
        if changes.get("transient") is not None:
            changes = dict(changes, transient=normalise_fault(
                changes["transient"]))
        for profile in [changes.get("statuses", "all")] + list(
                changes.get("number_statuses", {}).values()):
            status_profile(profile)
        for key, value in changes.items():
            setattr(self, key, value)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def status_profile(profile) -> list:
    """The list of statuses a profile stands for; ControlError if bad."""
    if isinstance(profile, list):
        if not all(s in STATUS_NAMES for s in profile):
            raise ControlError(f"bad status list {profile!r}")
        return list(profile)
    if profile not in STATUS_PROFILES:
        raise ControlError(f"unknown status profile {profile!r}")
    return STATUS_PROFILES[profile]


@dataclass
class Account:
    """A business phone number and the token that may use it."""
    pnid: str
    token: str
    display_phone_number: str
    verified_name: str = "Ferry Test Business"
    waba_id: str = ""
    country_code: str = ""
    expired: bool = False
    scopes: list = field(default_factory=lambda: list(SCOPES))

    def __post_init__(self):
        self.display_phone_number = digits(self.display_phone_number)
        self.waba_id = self.waba_id or "1022" + self.pnid[-11:]
        if not self.country_code:
            number = self.display_phone_number
            self.country_code = "1" if number.startswith(("1", "7")) \
                else number[:2]

    def info(self) -> dict:
        return {"verified_name": self.verified_name,
                "display_phone_number": self.display_phone_number,
                "id": self.pnid, "quality_rating": "GREEN",
                "throughput": {"level": "STANDARD"}}

    def metadata(self) -> dict:
        return {"display_phone_number": self.display_phone_number,
                "phone_number_id": self.pnid}


@dataclass
class Media:
    """Stored media: uploaded, or created for an inbound message."""
    id: str
    pnid: str
    data: bytes
    mime_type: str
    filename: Optional[str]
    expires: float
    deleted: bool = False

    def sha256_hex(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def sha256_b64(self) -> str:
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode()


class TokenBucket:
    """rate tokens per second, at most capacity."""

    def __init__(self, rate: float, capacity: float):
        self.rate = rate
        self.capacity = max(capacity, 1.0)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity,
                          self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class State:
    """Everything a reset clears."""

    def __init__(self):
        self.accounts: dict = {}
        self.media: dict = {}
        self.download_urls: dict = {}   # hash -> (media id, expiry)
        self.windows: dict = {}         # (pnid or "*", wa_id) -> last inbound
        self.known_wamids: dict = {}    # pnid -> set of wamids
        self.sent: list = []
        self.reads: list = []
        self.requests: list = []
        self.deliveries: list = []
        self.fail_rules: list = []
        self.mps_buckets: dict = {}
        self.pair_buckets: dict = {}
        self.templates: dict = {}       # waba_id -> [template]
        self.seq = itertools.count(1)

    def account_for_token(self, token: str) -> Optional[Account]:
        for account in self.accounts.values():
            if account.token == token:
                return account
        return None

    def default_account(self, pnid: Optional[str]) -> Account:
        if pnid is None and self.accounts:
            return next(iter(self.accounts.values()))
        if pnid not in self.accounts:
            raise ControlError(f"unknown pnid {pnid!r}")
        return self.accounts[pnid]

    def remember_wamid(self, pnid: str, wamid: str) -> None:
        self.known_wamids.setdefault(pnid, set()).add(wamid)

    def open_window(self, pnid: str, wa_id: str, at=None) -> None:
        self.windows[(pnid, wa_id)] = time.time() if at is None else at

    def close_window(self, pnid: Optional[str], wa_id: str) -> None:
        for key in list(self.windows):
            if key[1] == wa_id and (pnid is None or key[0] == pnid):
                del self.windows[key]

    def window_open(self, pnid: str, wa_id: str, seconds: float) -> bool:
        last = max(self.windows.get((pnid, wa_id), -1.0),
                   self.windows.get(("*", wa_id), -1.0))
        return last >= 0 and time.time() - last < seconds

    def find_sent(self, wamid: str) -> Optional[dict]:
        for entry in self.sent:
            if entry["wamid"] == wamid:
                return entry
        return None


def filtered(items: list, query, seq_key: str = "seq") -> list:
    """Apply the common ?since= filter and exact-match ones on a log."""
    since = int(query.get("since", 0) or 0)
    out = [i for i in items if i[seq_key] > since]
    for key in ("pnid", "kind", "method"):
        if query.get(key):
            out = [i for i in out if i.get(key) == query[key]]
    return out


# ---------------------------------------------------------------------------
# Webhook emitter
# ---------------------------------------------------------------------------


@dataclass
class Delivery:
    """One webhook POST (one copy of a body) and its attempts."""
    id: int
    copy: int
    kind: str
    wamids: list
    body: bytes
    signature: Optional[str]
    attempts: list = field(default_factory=list)
    done: bool = False
    ok: bool = False
    first: asyncio.Event = field(default_factory=asyncio.Event)
    final: asyncio.Event = field(default_factory=asyncio.Event)

    def as_dict(self) -> dict:
        last = self.attempts[-1]["status"] if self.attempts else None
        return {"id": self.id, "copy": self.copy, "kind": self.kind,
                "wamids": self.wamids,
                "body": self.body.decode("utf-8", "replace"),
                "signature": self.signature, "attempts": self.attempts,
                "status": last, "ok": self.ok, "done": self.done}


class WebhookEmitter:
    """Signs and POSTs webhook bodies to the configured URL, with retries."""

    def __init__(self, fake: "FakeCloudAPI"):
        self.fake = fake
        self.ids = itertools.count(1)
        self.session: Optional[aiohttp.ClientSession] = None

    async def start(self) -> None:
        self.session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self.session:
            await self.session.close()

    def signature(self, body: bytes, mode: str) -> tuple:
        """(bytes to send, header value or None) for a signature mode."""
        secret = self.fake.config.app_secret
        if mode not in SIGNATURE_MODES:
            raise ControlError(f"unknown signature mode {mode!r}")
        if mode == "none":
            return body, None
        if mode == "bad":
            return body, sign(body, secret + "-wrong")
        header = sign(body, secret)
        if mode == "upper":
            return body, "SHA256=" + header[7:]
        if mode == "upperhex":
            return body, "sha256=" + header[7:].upper()
        if mode == "tamper":
            return tamper(body), header
        return body, header

    async def send(self, payload, *, kind: str, wamids=(), signature="good",
                   duplicate=0, retry=True, wait="first") -> dict:
        """Deliver payload (dict or bytes) 1 + duplicate times."""
        if wait not in ("first", "final", "none"):
            raise ControlError(f"bad wait {wait!r}")
        body = payload if isinstance(payload, bytes) else meta_json(payload)
        sent, header = self.signature(body, signature)
        copies = [self._new_delivery(n, kind, list(wamids), sent, header)
                  for n in range(1 + int(duplicate))]
        self.fake.spawn(self._run_copies(copies, retry))
        await self._wait(copies, wait)
        return {"ids": [d.id for d in copies],
                "status": copies[0].attempts[0]["status"]
                if copies[0].attempts else None,
                "statuses": [d.attempts[0]["status"] if d.attempts else None
                             for d in copies],
                "ok": all(d.ok for d in copies)}

    def _new_delivery(self, copy, kind, wamids, body, header) -> Delivery:
        delivery = Delivery(next(self.ids), copy, kind, wamids, body, header)
        self.fake.state.deliveries.append(delivery)
        return delivery

    @staticmethod
    async def _wait(copies: list, wait: str) -> None:
        for delivery in copies:
            if wait == "first":
                await delivery.first.wait()
            elif wait == "final":
                await delivery.final.wait()

    async def _run_copies(self, copies: list, retry: bool) -> None:
        """Send the copies one after the other; retries run alongside."""
        for delivery in copies:
            self.fake.spawn(self._run(delivery, retry))
            await delivery.first.wait()

    async def _run(self, delivery: Delivery, retry: bool) -> None:
        """Attempt delivery until a 200 or the attempts run out."""
        config = self.fake.config
        try:
            for n in range(1, max(1, config.webhook_max_attempts) + 1):
                if n > 1:
                    await asyncio.sleep(config.webhook_backoff * 2 ** (n - 2))
                status = await self._attempt(delivery, n)
                delivery.first.set()
                if status == 200:
                    delivery.ok = True
                if status == 200 or not retry:
                    break
        finally:
            delivery.done = True
            delivery.first.set()
            delivery.final.set()

    async def _attempt(self, delivery: Delivery, n: int) -> Optional[int]:
        """One POST; records and returns the HTTP status (None: no answer)."""
        config = self.fake.config
        headers = {"Content-Type": "application/json",
                   "User-Agent": "facebookexternalua"}
        if delivery.signature is not None:
            headers["X-Hub-Signature-256"] = delivery.signature
        status, error = None, None
        try:
            timeout = aiohttp.ClientTimeout(total=config.webhook_timeout)
            async with self.session.post(config.webhook_url,
                                         data=delivery.body, headers=headers,
                                         timeout=timeout) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        delivery.attempts.append({"n": n, "status": status, "error": error,
                                  "time": time.time()})
        log.info("webhook %s #%d attempt %d -> %s", delivery.kind,
                 delivery.id, n, status or error)
        return status

    async def verify(self, options: dict) -> dict:
        """Run the verification GET handshake against the webhook URL."""
        config = self.fake.config
        challenge = str(options.get("challenge", secrets.randbelow(10 ** 10)))
        params = {"hub.mode": options.get("mode", "subscribe"),
                  "hub.challenge": challenge,
                  "hub.verify_token": options.get("verify_token",
                                                  config.verify_token)}
        for name in options.get("omit", []):
            params.pop(name, None)
        url = config.webhook_url + "?" + urllib.parse.urlencode(params)
        try:
            async with self.session.get(url) as resp:
                body = await resp.text()
                status = resp.status
        except aiohttp.ClientError as exc:
            return {"url": url, "challenge": challenge, "status": None,
                    "body": None, "ok": False, "error": str(exc)}
        return {"url": url, "challenge": challenge, "status": status,
                "body": body, "ok": status == 200 and body == challenge}


# ---------------------------------------------------------------------------
# Webhook payloads: inbound messages, statuses, envelopes
# ---------------------------------------------------------------------------


@dataclass
class Unit:
    """One item of a webhook: its account, kind and value fragment."""
    account: Account
    kind: str          # "messages", "statuses" or "errors"
    value: dict


class PayloadBuilder:
    """Builds the webhook bodies of section A.4 from simple specs."""

    def __init__(self, fake: "FakeCloudAPI"):
        self.fake = fake
        self.media_ids: list = []

    # -- inbound messages ---------------------------------------------------

    def message_unit(self, spec: dict) -> Unit:
        """The unit for one inbound message spec (opens the window)."""
        account = self.fake.state.default_account(spec.get("pnid"))
        mtype = spec.get("type", "text")
        if mtype == "errors":
            errors = spec.get("errors") or [error_object(130429)]
            return Unit(account, "errors", {"errors": errors})
        if "from" not in spec:
            raise ControlError("a message spec needs 'from'")
        wa_id = digits(spec["from"])
        message = self.message(account, wa_id, spec)
        value = {"messages": [message]}
        if mtype != "system":
            value["contacts"] = [self.contact(wa_id, spec)]
            self.fake.state.open_window(account.pnid, wa_id)
        if spec.get("errors"):
            value["errors"] = spec["errors"]
        self.fake.state.remember_wamid(account.pnid, message["id"])
        return Unit(account, "messages", value)

    def contact(self, wa_id: str, spec: dict) -> dict:
        name = spec.get("name") or f"User {wa_id[-4:]}"
        contact = {"profile": {"name": name}, "wa_id": wa_id}
        contact.update(spec.get("contact_extra", {}))
        return contact

    def message(self, account: Account, wa_id: str, spec: dict) -> dict:
        message = {"from": wa_id,
                   "id": spec.get("id") or new_wamid(wa_id),
                   "timestamp": str(spec.get("timestamp", now_ts()))}
        message.update(self.body(account, spec))
        message.update(spec.get("extra", {}))
        return message

    def body(self, account: Account, spec: dict) -> dict:
        """Type, context and the type-specific object of a message."""
        mtype = spec.get("type", "text")
        if mtype not in INBOUND_TYPES:
            raise ControlError(f"unknown inbound type {mtype!r}")
        out = {}
        context = self.context(account, spec)
        if context:
            out["context"] = context
        if mtype in INBOUND_MEDIA:
            out.update(self.build_media(account, spec, mtype))
        else:
            out["type"] = mtype
            out.update(getattr(self, "build_" + mtype)(account, spec))
        return out

    def context(self, account: Account, spec: dict) -> Optional[dict]:
        if spec.get("reply_to"):
            return {"from": account.display_phone_number,
                    "id": spec["reply_to"]}
        if spec.get("frequently_forwarded"):
            return {"forwarded": True, "frequently_forwarded": True}
        if spec.get("forwarded"):
            return {"forwarded": True}
        return None

    def build_text(self, account, spec) -> dict:
        return {"text": {"body": spec.get("text", spec.get("body", ""))}}

    def build_media(self, account, spec, mtype) -> dict:
        wtype, default_mime = INBOUND_MEDIA[mtype]
        media = self.inbound_media(account, spec, default_mime, wtype)
        obj = {"mime_type": media.mime_type, "sha256": media.sha256_b64(),
               "id": media.id}
        for key in ("caption", "filename", "animated"):
            if key in spec:
                obj[key] = spec[key]
        if wtype == "sticker":
            obj.setdefault("animated", False)
        if wtype == "document" and media.filename:
            obj.setdefault("filename", media.filename)
        if wtype == "audio":
            obj["voice"] = mtype == "voice"
        if spec.get("with_url"):
            obj["url"] = self.fake.media_url(media)
        if spec.get("media_url"):
            obj["url"] = spec["media_url"]
        return {"type": wtype, wtype: obj}

    def inbound_media(self, account, spec, default_mime, wtype) -> Media:
        if spec.get("media_id"):
            media = self.fake.state.media.get(spec["media_id"])
            if media is None:
                raise ControlError(f"unknown media_id {spec['media_id']!r}")
            return media
        if "data_b64" in spec:
            data = base64.b64decode(spec["data_b64"])
        else:
            data = spec.get("data", f"fake {wtype} "
                            f"{secrets.token_hex(8)}").encode()
        media = self.fake.add_media(account.pnid, data,
                                    spec.get("mime_type", default_mime),
                                    spec.get("filename"), INBOUND_MEDIA_TTL)
        self.media_ids.append(media.id)
        return media

    def build_reaction(self, account, spec) -> dict:
        if "message_id" not in spec:
            raise ControlError("a reaction needs message_id")
        reaction = {"message_id": spec["message_id"]}
        if "emoji" in spec:
            reaction["emoji"] = spec["emoji"]
        return {"reaction": reaction}

    def build_location(self, account, spec) -> dict:
        location = {"latitude": spec.get("latitude", 37.4611978),
                    "longitude": spec.get("longitude", -122.2164385)}
        if "name_of_place" in spec:
            location["name"] = spec["name_of_place"]
        for key in ("address", "url"):
            if key in spec:
                location[key] = spec[key]
        return {"location": location}

    def build_contacts(self, account, spec) -> dict:
        return {"contacts": spec.get("contacts") or DEFAULT_CONTACTS}

    def build_unsupported(self, account, spec) -> dict:
        out = {"errors": [error_object(131051)]}
        if spec.get("unsupported_type", "poll") is not None:
            out["unsupported"] = {"type": spec.get("unsupported_type",
                                                   "poll")}
        return out

    def build_button(self, account, spec) -> dict:
        return {"button": {"payload": spec.get("payload", "callback_data"),
                           "text": spec.get("button_text", "title")}}

    def build_interactive(self, account, spec) -> dict:
        if "interactive" in spec:
            return {"interactive": spec["interactive"]}
        if "list_reply" in spec:
            return {"interactive": {"type": "list_reply",
                                    "list_reply": spec["list_reply"]}}
        reply = spec.get("button_reply", {"id": "callback_data",
                                          "title": "title"})
        return {"interactive": {"type": "button_reply",
                                "button_reply": reply}}

    def build_edit(self, account, spec) -> dict:
        inner_spec = spec.get("message") or {"type": "text",
                                             "text": spec.get("text", "")}
        inner = self.body(account, inner_spec)
        return {"edit": {"original_message_id": self.original(spec),
                         "message": inner}}

    def build_revoke(self, account, spec) -> dict:
        return {"revoke": {"original_message_id": self.original(spec)}}

    def original(self, spec) -> str:
        if "original_message_id" not in spec:
            raise ControlError("edit/revoke need original_message_id")
        return spec["original_message_id"]

    def build_system(self, account, spec) -> dict:
        old = digits(spec["from"])
        new = digits(spec.get("new_wa_id")
                     or old[:-1] + str((int(old[-1]) + 1) % 10))
        body = spec.get("body") or (f"User {spec.get('name', 'A')} changed "
                                    f"from {old} to {new}")
        return {"system": {"body": body, "wa_id": new,
                           "type": "user_changed_number"}}

    # -- statuses -----------------------------------------------------------

    def status_unit(self, spec: dict) -> Unit:
        """The unit for one status spec {wamid, status, ...}."""
        if "wamid" not in spec or spec.get("status") not in STATUS_NAMES:
            raise ControlError("a status spec needs wamid and a valid status")
        sent = self.fake.state.find_sent(spec["wamid"])
        pnid = spec.get("pnid") or (sent["pnid"] if sent else None)
        account = self.fake.state.default_account(pnid)
        recipient = spec.get("recipient_id") or (sent["wa_id"] if sent
                                                 else "16505551234")
        status = self.status(spec["wamid"], spec["status"], recipient, sent)
        if spec.get("errors"):
            status["errors"] = spec["errors"]
        elif spec.get("error"):
            status["errors"] = [error_object(int(spec["error"]))]
        for key in ("timestamp", "biz_opaque_callback_data"):
            if key in spec:
                status[key] = spec[key]
        return Unit(account, "statuses", {"statuses": [status]})

    def status(self, wamid, name, recipient, sent=None) -> dict:
        status = {"id": wamid, "status": name, "timestamp": now_ts(),
                  "recipient_id": recipient}
        if name in ("sent", "delivered"):
            template = (sent or {}).get("template")
            category = template["category"].lower() if template \
                else "service"
            status["pricing"] = {"billable": True, "pricing_model": "PMP",
                                 "type": "regular", "category": category}
        opaque = (sent or {}).get("body", {}).get("biz_opaque_callback_data")
        if opaque is not None:
            status["biz_opaque_callback_data"] = opaque
        return status

    # -- envelope -----------------------------------------------------------

    def envelope(self, units: list, layout: str = "grouped") -> dict:
        """Pack units into one webhook body."""
        if layout not in ("grouped", "changes", "entries"):
            raise ControlError(f"bad layout {layout!r}")
        if layout == "grouped":
            units = self.merge(units)
        entries = []
        for unit in units:
            change = {"value": self.value(unit), "field": "messages"}
            entry = None if layout == "entries" else next(
                (e for e in entries if e["_pnid"] == unit.account.pnid), None)
            if entry is None:
                entry = {"_pnid": unit.account.pnid,
                         "id": unit.account.waba_id, "changes": []}
                entries.append(entry)
            entry["changes"].append(change)
        for entry in entries:
            del entry["_pnid"]
        return {"object": "whatsapp_business_account", "entry": entries}

    def merge(self, units: list) -> list:
        """One unit per (pnid, kind); contacts deduplicated by wa_id."""
        merged: dict = {}
        for unit in units:
            key = (unit.account.pnid, unit.kind)
            if key not in merged:
                merged[key] = Unit(unit.account, unit.kind, {})
            target = merged[key].value
            for name, items in unit.value.items():
                bucket = target.setdefault(name, [])
                for item in items:
                    if name != "contacts" or item not in bucket:
                        bucket.append(item)
        return list(merged.values())

    def value(self, unit: Unit) -> dict:
        value = {"messaging_product": "whatsapp",
                 "metadata": unit.account.metadata()}
        for name in ("contacts", "messages", "statuses", "errors"):
            if name in unit.value:
                value[name] = unit.value[name]
        return value


def unit_wamids(units: list) -> list:
    out = []
    for unit in units:
        for item in unit.value.get("messages", []) + unit.value.get(
                "statuses", []):
            out.append(item["id"])
    return out


# ---------------------------------------------------------------------------
# Graph API: sends
# ---------------------------------------------------------------------------


@dataclass
class Outbound:
    """A validated send request."""
    account: Account
    body: dict
    to: str
    wa_id: str
    type: str
    payload: Any
    rendered: Optional[dict] = None   # a checked template, filled in


class SendValidator:
    """Checks a POST /messages body the way the Cloud API does."""

    def __init__(self, fake: "FakeCloudAPI"):
        self.fake = fake

    def check(self, account: Account, body) -> Outbound:
        if not isinstance(body, dict):
            raise param_error("Invalid parameter")
        self.product(body)
        to = body.get("to")
        if not isinstance(to, str) or not to.strip():
            raise param_error("The parameter to is required.")
        wa_id = self.recipient(account, to)
        mtype = body.get("type", "text")
        if mtype not in SEND_TYPES:
            raise param_error(f"Param type must be one of "
                              f"{{{', '.join(SEND_TYPES).upper()}}} - got "
                              f"\"{mtype}\".")
        payload = body.get(mtype)
        if payload is None:
            raise param_error(f"The parameter {mtype} is required.")
        getattr(self, "check_" + mtype, self.check_media)(payload, mtype)
        self.extras(body)
        rendered = self.template(account, payload) \
            if mtype == "template" else None
        return Outbound(account, body, to, wa_id, mtype, payload, rendered)

    def product(self, body: dict) -> None:
        product = body.get("messaging_product")
        if product is None:
            raise param_error("The parameter messaging_product is required.")
        if product != "whatsapp":
            raise param_error("Param messaging_product must be one of "
                              f"{{WHATSAPP}} - got \"{product}\".")

    def recipient(self, account: Account, to: str) -> str:
        """The wa_id for `to`; no '+' means the business's country code."""
        stripped = re.sub(r"[\s\-().]", "", to)
        number = stripped[1:] if stripped.startswith("+") else stripped
        if not number.isdigit() or not 5 <= len(number) <= 15:
            raise param_error(f"Invalid parameter: to \"{to}\" is not a "
                              "valid phone number.")
        if not stripped.startswith("+"):
            number = account.country_code + number
        if number == account.display_phone_number:
            raise GraphError(131021)
        return self.fake.config.wa_id_rewrites.get(number, number)

    def extras(self, body: dict) -> None:
        context = body.get("context")
        if context is not None and not (
                isinstance(context, dict)
                and isinstance(context.get("message_id"), str)):
            raise param_error("Param context must contain message_id.")
        opaque = body.get("biz_opaque_callback_data")
        if opaque is not None and len(str(opaque).encode()) > MAX_OPAQUE:
            raise param_error("Param biz_opaque_callback_data must be at "
                              f"most {MAX_OPAQUE} bytes.")

    def check_text(self, payload, mtype) -> None:
        text = payload.get("body") if isinstance(payload, dict) else None
        if not isinstance(text, str):
            raise param_error("The parameter text['body'] is required.")
        if len(text) > MAX_TEXT:
            raise param_error(f"Param text['body'] must be at most "
                              f"{MAX_TEXT} characters long.")

    def check_media(self, payload, mtype) -> None:
        if not isinstance(payload, dict):
            raise param_error(f"Param {mtype} must be an object.")
        if ("id" in payload) == ("link" in payload):
            raise param_error(f"Param {mtype} must have exactly one of "
                              "'id' or 'link'.")
        link = payload.get("link")
        if link is not None and not re.match(r"https?://", str(link)):
            raise param_error(f"Param {mtype}['link'] must be a valid URL.")
        if len(str(payload.get("caption", ""))) > MAX_CAPTION:
            raise param_error(f"Param {mtype}['caption'] must be at most "
                              f"{MAX_CAPTION} characters long.")

    def check_reaction(self, payload, mtype) -> None:
        if not isinstance(payload, dict) or not isinstance(
                payload.get("message_id"), str):
            raise param_error("The parameter reaction['message_id'] is "
                              "required.")
        if not isinstance(payload.get("emoji"), str):
            raise param_error("The parameter reaction['emoji'] is required.")

    def check_location(self, payload, mtype) -> None:
        if not isinstance(payload, dict) or not all(
                isinstance(payload.get(k), (int, float, str))
                for k in ("latitude", "longitude")):
            raise param_error("Param location must have latitude and "
                              "longitude.")

    def check_contacts(self, payload, mtype) -> None:
        if not isinstance(payload, list) or not payload:
            raise param_error("Param contacts must be a non-empty array.")

    def check_interactive(self, payload, mtype) -> None:
        if not isinstance(payload, dict) or "type" not in payload:
            raise param_error("The parameter interactive['type'] is "
                              "required.")

    def check_template(self, payload, mtype) -> None:
        name = payload.get("name") if isinstance(payload, dict) else None
        language = payload.get("language") if name else None
        if not isinstance(name, str) or not isinstance(language, dict) or \
                not isinstance(language.get("code"), str):
            raise param_error("Param template must have name and "
                              "language['code'].")

    def template(self, account: Account, payload: dict) -> Optional[dict]:
        """Check a template send; its rendering (None: no templates set).

        A WABA with templates in the store is checked against them (part
        E.3); before any is set, config `templates` applies (None: any
        name; else the known names, others get 132001)."""
        name, code = payload["name"], payload["language"]["code"]
        store = self.fake.state.templates.get(account.waba_id)
        if store is None:
            known = self.fake.config.templates
            if known is not None and name not in known:
                raise GraphError(132001, f"template name ({name}) does not "
                                 f"exist in {code}")
            return None
        for tpl in store:
            if tpl["name"] == name and tpl["language"] == code:
                rendered = TemplateSend(tpl, payload).check()
                return dict(rendered, name=name, language=code,
                            category=tpl["category"], id=tpl["id"])
        raise GraphError(132001, f"template name ({name}) does not exist in "
                         f"{code}")


# ---------------------------------------------------------------------------
# Message templates (part E): the store, the listing, the send check
# ---------------------------------------------------------------------------

TEMPLATE_STATUSES = ("APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED",
                     "IN_APPEAL", "PENDING_DELETION", "DELETED",
                     "LIMIT_EXCEEDED", "ARCHIVED")
# webhook event -> the status it leaves (None: the status does not change)
TEMPLATE_EVENTS = {s: s for s in TEMPLATE_STATUSES}
TEMPLATE_EVENTS.update({"REINSTATED": "APPROVED", "UNARCHIVED": "APPROVED",
                        "FLAGGED": None, "LOCKED": None})
TEMPLATE_CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
TEMPLATE_DEFAULT_FIELDS = ("name", "parameter_format", "components",
                           "language", "status", "category", "sub_category",
                           "id")
TEMPLATE_EXTRA_FIELDS = {"previous_category": None, "correct_category": None,
                         "rejected_reason": "NONE",
                         "quality_score": {"score": "UNKNOWN"},
                         "message_send_ttl_seconds": None,
                         "library_template_name": None}
TEMPLATE_LIMIT = 250
TEMPLATE_PAGE = 25
MEDIA_FORMATS = ("IMAGE", "VIDEO", "DOCUMENT")
MAX_TEMPLATE_BODY = 1024
PLACEHOLDER_RE = re.compile(r"\{\{\s*([a-z0-9_]+)\s*\}\}")
BAD_PARAM_RE = re.compile(r"[\n\t]| {5,}")
BAD_PARAM_TEXT = ("Param text cannot have new-line/tab characters or more "
                  "than 4 consecutive spaces")
_template_ids = itertools.count(1387372356726668)


def placeholders(text: str) -> list:
    """The distinct placeholder names of text, in order of appearance."""
    out = []
    for name in PLACEHOLDER_RE.findall(text or ""):
        if name not in out:
            out.append(name)
    return out


def template_component(template: dict, ctype: str) -> Optional[dict]:
    for component in template["components"]:
        if component.get("type", "").upper() == ctype:
            return component
    return None


def template_buttons(template: dict) -> list:
    component = template_component(template, "BUTTONS")
    return component.get("buttons", []) if component else []


def normalise_template(spec: dict) -> dict:
    """A template in the list API's shape; ControlError if malformed."""
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) \
            or not re.match(r"^[a-z0-9_]+$", spec["name"]):
        raise ControlError("a template needs a name matching ^[a-z0-9_]+$")
    tpl = dict(spec)
    tpl.setdefault("language", "en_US")
    tpl.setdefault("status", "APPROVED")
    tpl.setdefault("category", "UTILITY")
    tpl.setdefault("parameter_format", "POSITIONAL")
    tpl.setdefault("components", [{"type": "BODY",
                                   "text": f"{spec['name']}"}])
    tpl["id"] = str(tpl.get("id") or next(_template_ids))
    if tpl["status"] not in TEMPLATE_STATUSES:
        raise ControlError(f"bad template status {tpl['status']!r}")
    if tpl["category"] not in TEMPLATE_CATEGORIES:
        raise ControlError(f"bad template category {tpl['category']!r}")
    if tpl["parameter_format"] not in ("POSITIONAL", "NAMED"):
        raise ControlError("parameter_format must be POSITIONAL or NAMED")
    if not isinstance(tpl["components"], list) or \
            template_component(tpl, "BODY") is None:
        raise ControlError("a template needs a BODY component")
    return tpl


class TemplateLister:
    """GET /<WABA_ID>/message_templates: filters, fields and cursors."""

    def __init__(self, fake: "FakeCloudAPI"):
        self.fake = fake

    def listing(self, request: web.Request, templates: list) -> dict:
        query = request.query
        items = [t for t in templates if self.matches(t, query)]
        out = self.page(request, items)
        if query.get("summary"):
            out["summary"] = self.summary(query["summary"], templates, items)
        return out

    @staticmethod
    def matches(tpl: dict, query) -> bool:
        for key in ("status", "category", "language", "name",
                    "quality_score"):
            if query.get(key):
                wanted = [v.strip().upper() for v in query[key].split(",")]
                value = tpl.get(key)
                if key == "quality_score":
                    value = (value or {}).get("score", "UNKNOWN")
                if str(value).upper() not in wanted:
                    return False
        body = template_component(tpl, "BODY").get("text", "")
        if query.get("content") and query["content"] not in body:
            return False
        if query.get("name_or_content") and \
                query["name_or_content"] not in tpl["name"] and \
                query["name_or_content"] not in body:
            return False
        return True

    @staticmethod
    def fields(tpl: dict, query) -> dict:
        wanted = [f for f in query.get("fields", "").split(",") if f]
        wanted = wanted or list(TEMPLATE_DEFAULT_FIELDS)
        out = {}
        for name in wanted:
            if name in tpl:
                out[name] = tpl[name]
            elif TEMPLATE_EXTRA_FIELDS.get(name) is not None:
                out[name] = TEMPLATE_EXTRA_FIELDS[name]
        out["id"] = tpl["id"]
        return out

    @staticmethod
    def cursor(tpl: dict) -> str:
        return base64.urlsafe_b64encode(
            f"tpl:{tpl['id']}".encode()).decode().rstrip("=")

    @staticmethod
    def position(items: list, cursor: str) -> int:
        """The index of the template a cursor names; 100 if unknown."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            tid = raw.decode().split(":", 1)[1]
        except (ValueError, IndexError, UnicodeDecodeError):
            tid = None
        for i, tpl in enumerate(items):
            if tpl["id"] == tid:
                return i
        raise param_error("Invalid cursor: " + cursor[:40])

    def page(self, request: web.Request, items: list) -> dict:
        query = request.query
        try:
            limit = int(query.get("limit", TEMPLATE_PAGE))
        except ValueError:
            raise param_error("Param limit must be an integer") from None
        if limit < 1:
            raise param_error("Param limit must be a positive integer")
        start, end = 0, min(limit, len(items))
        if query.get("after"):
            start = self.position(items, query["after"]) + 1
            end = min(start + limit, len(items))
        elif query.get("before"):
            end = self.position(items, query["before"])
            start = max(0, end - limit)
        chunk = items[start:end]
        out = {"data": [self.fields(t, query) for t in chunk]}
        if not chunk:
            return out
        paging = {"cursors": {"before": self.cursor(chunk[0]),
                              "after": self.cursor(chunk[-1])}}
        if end < len(items):
            paging["next"] = self.link(request, "after", chunk[-1])
        if start > 0:
            paging["previous"] = self.link(request, "before", chunk[0])
        out["paging"] = paging
        return out

    def link(self, request: web.Request, name: str, tpl: dict) -> str:
        query = {k: v for k, v in request.query.items()
                 if k not in ("after", "before")}
        query[name] = self.cursor(tpl)
        return (f"{self.fake.base_url}{request.path}?"
                + urllib.parse.urlencode(query))

    @staticmethod
    def summary(names: str, templates: list, items: list) -> dict:
        values = {"total_count": len(items),
                  "message_template_count": len(templates),
                  "message_template_limit": TEMPLATE_LIMIT,
                  "are_translations_complete": True}
        return {k: values[k] for k in names.split(",") if k in values}


class TemplateSend:
    """Checks a template send against its template and renders it."""

    def __init__(self, template: dict, payload: dict):
        self.tpl = template
        self.named = template["parameter_format"] == "NAMED"
        self.given = self.split(payload.get("components") or [])

    @staticmethod
    def split(components) -> dict:
        """The request's components: header, body, button index -> one."""
        if not isinstance(components, list):
            raise param_error("Param template['components'] must be an "
                              "array.")
        out = {"buttons": {}}
        for comp in components:
            if not isinstance(comp, dict) or not isinstance(
                    comp.get("type"), str):
                raise param_error("Param template['components'][]['type'] "
                                  "is required.")
            ctype = comp["type"].lower()
            if ctype not in ("header", "body", "button"):
                raise param_error(f"Param template['components'][]['type'] "
                                  f"must be one of {{HEADER, BODY, BUTTON}}"
                                  f" - got \"{comp['type']}\".")
            params = comp.get("parameters", [])
            if not isinstance(params, list):
                raise param_error("Param parameters must be an array.")
            if ctype == "button":
                try:
                    out["buttons"][int(comp.get("index"))] = comp
                except (TypeError, ValueError):
                    raise param_error("Param index is required for a "
                                      "button.") from None
            else:
                out[ctype] = params
        return out

    def check(self) -> dict:
        """The rendered message; GraphError as Meta answers."""
        status = self.tpl["status"]
        if status == "PAUSED":
            raise GraphError(132015)
        if status == "DISABLED":
            raise GraphError(132016)
        if status != "APPROVED":
            raise self.missing()
        header = self.header()
        body = self.text_part("body", template_component(self.tpl, "BODY"))
        buttons = self.buttons()
        if len(body) > MAX_TEMPLATE_BODY:
            raise GraphError(132005, f"body: the translated text is "
                             f"{len(body)} characters long, at most "
                             f"{MAX_TEMPLATE_BODY} are allowed")
        footer = template_component(self.tpl, "FOOTER")
        rendered = {"header": header, "body": body,
                    "footer": footer.get("text") if footer else None,
                    "buttons": buttons}
        rendered["text"] = "\n".join(
            p for p in (header if isinstance(header, str) else None, body,
                        rendered["footer"]) if p)
        return rendered

    def missing(self) -> GraphError:
        return GraphError(132001, f"template name ({self.tpl['name']}) does "
                          f"not exist in {self.tpl['language']}")

    def header(self):
        comp = template_component(self.tpl, "HEADER")
        if comp is None:
            given = self.given.get("header") or []
            if given:
                raise GraphError(132000, f"header: number of "
                                 f"localizable_params ({len(given)}) does "
                                 f"not match the expected number of params "
                                 f"(0)")
            return None
        fmt = comp.get("format", "TEXT").upper()
        if fmt == "TEXT":
            for param in self.given.get("header") or []:
                got = str(param.get("type", "UNKNOWN")).upper() \
                    if isinstance(param, dict) else "UNKNOWN"
                if got in MEDIA_FORMATS or got == "LOCATION":
                    raise GraphError(132012, f"header: Format mismatch, "
                                     f"expected TEXT, received {got}")
            return self.text_part("header", comp)
        params = self.given.get("header") or []
        got = params[0].get("type", "").upper() if params and isinstance(
            params[0], dict) else "UNKNOWN"
        if fmt in MEDIA_FORMATS and got != fmt:
            raise GraphError(132012, f"header: Format mismatch, expected "
                             f"{fmt}, received {got}")
        if fmt in MEDIA_FORMATS:
            media = params[0].get(fmt.lower())
            if not isinstance(media, dict) or ("id" in media) == (
                    "link" in media):
                raise param_error(f"Param header {fmt.lower()} must have "
                                  "exactly one of 'id' or 'link'.")
            return {fmt.lower(): media}
        return {fmt.lower(): params[0] if params else None}

    def text_part(self, where: str, comp: dict) -> str:
        """Check the parameters of a header/body text; the filled text."""
        text = comp.get("text", "")
        names = placeholders(text)
        params = self.given.get(where) or []
        self.check_format(where, params)
        if len(params) != len(names):
            raise GraphError(132000, f"{where}: number of localizable_params "
                             f"({len(params)}) does not match the expected "
                             f"number of params ({len(names)})")
        values = {}
        for i, param in enumerate(params):
            key = param.get("parameter_name") if self.named else names[i]
            if key not in names or key in values:
                raise GraphError(132012, f"{where}: parameter name "
                                 f"({key}) does not match the template")
            values[key] = self.value(param)
        return PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], text)

    def check_format(self, where: str, params: list) -> None:
        """parameter_name: required by NAMED, refused by POSITIONAL."""
        for param in params:
            if not isinstance(param, dict):
                raise param_error(f"Param {where} parameters must be "
                                  "objects.")
            has_name = bool(param.get("parameter_name"))
            if has_name != self.named:
                raise GraphError(132012, f"{where}: parameter_name is "
                                 + ("missing" if self.named else
                                    "not expected for a POSITIONAL "
                                    "template"))

    @staticmethod
    def value(param: dict) -> str:
        ptype = param.get("type", "text")
        if ptype == "text":
            text = param.get("text")
        elif ptype in ("currency", "date_time"):
            text = (param.get(ptype) or {}).get("fallback_value")
        else:
            raise param_error(f"Param type must be one of {{TEXT, CURRENCY, "
                              f"DATE_TIME}} - got \"{ptype}\".")
        if not isinstance(text, str):
            raise GraphError(131008, f"Param {ptype} is required.")
        if BAD_PARAM_RE.search(text):
            raise GraphError(132018, BAD_PARAM_TEXT)
        return text

    # a button's type in the list API, its sub_type in a send, the type of
    # its one parameter and Meta's name of the type in error details
    BUTTON_KINDS = {"URL": ("url", "text", "Url"),
                    "QUICK_REPLY": ("quick_reply", "payload", "QuickReply"),
                    "COPY_CODE": ("copy_code", "coupon_code", "CopyCode")}

    def buttons(self) -> list:
        """Button labels, their filled URLs and given payloads/codes;
        131009 for an index the template lacks or a sub_type that is not
        the button's, 132012 for a parameter of the wrong type, 132000 for
        a parameter the button does not take, 131008 for a missing one."""
        buttons = template_buttons(self.tpl)
        for index, comp in self.given["buttons"].items():
            if not 0 <= index < len(buttons):
                raise GraphError(131009, f"buttons: Button at index {index} "
                                 "does not exist")
            self.check_button(index, buttons[index], comp)
        out = []
        for index, button in enumerate(buttons):
            item = {"type": button.get("type"), "text": button.get("text")}
            comp = self.given["buttons"].get(index)
            params = comp.get("parameters", []) if comp else []
            if button.get("type") == "URL":
                item["url"] = self.url(index, button)
            elif button.get("type") == "QUICK_REPLY" and params:
                item["payload"] = params[0]["payload"]
            elif button.get("type") == "COPY_CODE":
                if not params:
                    raise GraphError(131008, f"buttons: Button at index "
                                     f"{index} of type CopyCode requires a "
                                     "parameter")
                item["coupon_code"] = params[0]["coupon_code"]
            out.append(item)
        return out

    def check_button(self, index: int, button: dict, comp: dict) -> None:
        """One button component of the send against the template's."""
        btype = str(button.get("type", "")).upper()
        kind = self.BUTTON_KINDS.get(btype)
        sub = str(comp.get("sub_type", "")).lower()
        if kind is None or sub != kind[0]:
            raise GraphError(131009, f"buttons: Button at index {index} is "
                             f"of type {btype.title().replace('_', '')}, "
                             f"not {sub or 'missing sub_type'}")
        params = comp.get("parameters", [])
        takes = 0 if btype == "URL" and not PLACEHOLDER_RE.search(
            button.get("url", "")) else 1
        if len(params) > takes:
            raise GraphError(132000, f"buttons: number of localizable_params "
                             f"({len(params)}) does not match the expected "
                             f"number of params ({takes})")
        for param in params:
            ptype = param.get("type") if isinstance(param, dict) else None
            if ptype != kind[1]:
                raise GraphError(132012, f"buttons: Format mismatch, expected "
                                 f"{kind[1].upper()}, received "
                                 f"{str(ptype or 'UNKNOWN').upper()}")
            value = param.get(kind[1])
            if not isinstance(value, str) or not value:
                raise GraphError(131008, f"Param {kind[1]} is required.")
            if BAD_PARAM_RE.search(value):
                raise GraphError(132018, BAD_PARAM_TEXT)

    def url(self, index: int, button: dict) -> str:
        url = button.get("url", "")
        if not PLACEHOLDER_RE.search(url):
            return url
        comp = self.given["buttons"].get(index)
        params = comp.get("parameters", []) if comp else []
        if not params or not isinstance(params[0], dict) or \
                not isinstance(params[0].get("text"), str):
            raise GraphError(131008, f"buttons: Button at index {index} of "
                             "type Url requires a parameter")
        if BAD_PARAM_RE.search(params[0]["text"]):
            raise GraphError(132018, BAD_PARAM_TEXT)
        return PLACEHOLDER_RE.sub(lambda m: params[0]["text"], url, count=1)


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------

VERSION = r"{ver:v\d+\.\d+}"


class FakeCloudAPI:
    """The fake Graph API, webhook emitter and control API."""

    def __init__(self, host="127.0.0.1", port=0, *, app_secret="",
                 webhook_url="", verify_token="", accounts=(),
                 sandbox=False, config=None):
        self.host, self.port = host, port
        self.initial_accounts = [dict(a) for a in accounts]
        self.initial_config = dict(config or {}, app_secret=app_secret,
                                   webhook_url=webhook_url,
                                   verify_token=verify_token)
        self.sandbox = sandbox
        self.tasks: set = set()
        self.emitter = WebhookEmitter(self)
        self.validator = SendValidator(self)
        self.runner: Optional[web.AppRunner] = None
        self.reset_state()

    # -- lifecycle ----------------------------------------------------------

    def reset_state(self) -> None:
        """Back to the start-up accounts, config and empty logs."""
        self.state = State()
        self.config = Config()
        self.config.update(dict(self.initial_config))
        for account in self.initial_accounts:
            self.add_account(account)
        if self.sandbox:
            pnid, token, display, name = SANDBOX_ACCOUNT
            self.add_account({"pnid": pnid, "token": token, "verified_name":
                              name, "display_phone_number": display})
            self.config.echo_contacts = dict(self.config.echo_contacts,
                                             **{SANDBOX_ECHO[0]:
                                                SANDBOX_ECHO[1]})
            waba = self.state.accounts[pnid].waba_id
            self.state.templates[waba] = [normalise_template(t)
                                          for t in SANDBOX_TEMPLATES]

    async def start(self) -> int:
        """Listen; returns the port."""
        await self.emitter.start()
        app = web.Application(middlewares=[self.middleware],
                              client_max_size=110 * MB)
        self.routes(app)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self.port

    async def stop(self) -> None:
        await self.cancel_tasks()
        await self.emitter.stop()
        if self.runner:
            await self.runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def spawn(self, coro) -> asyncio.Task:
        """Run coro in the background, tracked for reset/stop/idle."""
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.task_done)
        return task

    def task_done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception():
            log.error("background task failed", exc_info=task.exception())

    async def cancel_tasks(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def routes(self, app: web.Application) -> None:
        add = app.router.add_route
        control = ControlAPI(self)
        control.routes(app)
        add("GET", "/whatsapp_business/attachments/", self.download)
        add("POST", f"/{VERSION}/{{pnid}}/messages", self.send_messages)
        add("POST", f"/{VERSION}/{{pnid}}/media", self.upload_media)
        add("GET", f"/{VERSION}/{{waba}}/message_templates",
            self.list_templates)
        add("GET", f"/{VERSION}/{{obj}}", self.get_object)
        add("DELETE", f"/{VERSION}/{{obj}}", self.delete_media)
        add("*", "/{tail:.*}", self.unknown_path)

    # -- accounts and media -------------------------------------------------

    def add_account(self, spec: dict) -> Account:
        names = {f.name for f in dataclasses.fields(Account)}
        if not {"pnid", "token", "display_phone_number"} <= set(spec):
            raise ControlError("an account needs pnid, token and "
                               "display_phone_number")
        spec = {k: spec[k] for k in spec if k in names}
        for key in ("pnid", "token", "display_phone_number"):
            spec[key] = str(spec[key])
        account = Account(**spec)
        self.state.accounts[account.pnid] = account
        return account

    def add_media(self, pnid, data, mime, filename, ttl) -> Media:
        media = Media(new_media_id(), pnid, data, mime, filename,
                      time.time() + ttl)
        self.state.media[media.id] = media
        return media

    def media_url(self, media: Media) -> str:
        """A fresh download URL for media, valid for media_url_ttl."""
        token = secrets.token_urlsafe(16)
        expires = time.time() + self.config.media_url_ttl
        self.state.download_urls[token] = (media.id, expires)
        query = urllib.parse.urlencode({"mid": media.id,
                                        "ext": int(expires), "hash": token})
        return f"{self.base_url}/whatsapp_business/attachments/?{query}"

    def live_media(self, media_id: str) -> Optional[Media]:
        media = self.state.media.get(media_id)
        if media is None or media.deleted or media.expires < time.time():
            return None
        return media

    # -- middleware: record, faults, slowness -------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler):
        if request.path.startswith("/_control/"):
            try:
                return await handler(request)
            except GraphError as err:
                return err.response()
            except (ControlError, KeyError, TypeError, ValueError) as exc:
                return bad_request(f"{type(exc).__name__}: {exc}")
        record = await self.record_request(request)
        response = await self.graph_response(request, handler)
        if not request.get("dropped"):
            record["status"] = response.status
            record["response"] = self.response_summary(response)
        if self.config.slow_ms:
            await asyncio.sleep(self.config.slow_ms / 1000)
        log.info("%s %s -> %d", request.method, request.path, response.status)
        return response

    async def graph_response(self, request, handler) -> web.StreamResponse:
        fault = self.take_fault(request)
        if fault is not None and not fault.get("after"):
            return await fault_response(request, fault)
        try:
            response = await handler(request)
        except GraphError as err:
            response = err.response()
        if fault is not None:   # handled: only the answer is lost
            request["record"]["handled_status"] = response.status
            return await fault_response(request, fault)
        return response

    def take_fault(self, request: web.Request) -> Optional[dict]:
        """The fault to inject for this request, if any."""
        for rule in self.state.fail_rules:
            if rule["path_contains"] not in request.path:
                continue
            if rule["method"] and rule["method"] != request.method:
                continue
            rule["count"] -= 1
            if rule["count"] <= 0:
                self.state.fail_rules.remove(rule)
            return rule["error"]
        return self.config.transient

    async def record_request(self, request: web.Request) -> dict:
        record = {"seq": next(self.state.seq), "time": time.time(),
                  "method": request.method, "path": request.path,
                  "query": dict(request.query),
                  "headers": dict(request.headers), "json": None,
                  "body": None, "status": None, "response": None}
        if not request.content_type.startswith("multipart/"):
            raw = await request.read()
            record["body"] = raw.decode("utf-8", "replace")
            try:
                record["json"] = json.loads(raw) if raw else None
            except ValueError:
                pass
        request["record"] = record
        self.state.requests.append(record)
        return record

    @staticmethod
    def response_summary(response: web.StreamResponse):
        body = getattr(response, "body", None)
        if not isinstance(body, (bytes, bytearray)):
            return None
        try:
            return json.loads(body)
        except ValueError:
            return body.decode("utf-8", "replace")

    # -- auth ---------------------------------------------------------------

    def authorize(self, request: web.Request, pnid: str) -> Account:
        """The account for pnid if the Bearer token may use it."""
        token = self.bearer(request)
        if pnid not in self.state.accounts:
            raise missing_object(pnid, request.method)
        account = self.state.accounts[pnid]
        if account.token != token:
            raise missing_object(pnid, request.method)
        return account

    def bearer(self, request: web.Request) -> str:
        """The Bearer token; 401 code 190 if missing, unknown or expired."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise invalid_token()
        token = header[len("Bearer "):].strip()
        account = self.state.account_for_token(token)
        if account is None:
            raise invalid_token()
        if self.config.expired_token or account.expired:
            raise expired_token()
        return token

    # -- Graph handlers -----------------------------------------------------

    async def unknown_path(self, request: web.Request) -> web.Response:
        raise GraphError(2500, http=400, data=False, message="Unknown path "
                         f"components: {request.path}")

    async def get_object(self, request: web.Request) -> web.Response:
        obj = request.match_info["obj"]
        token = self.bearer(request)
        if obj in self.state.accounts:
            account = self.authorize(request, obj)
            return web.json_response(self.account_fields(account, request))
        template = self.template_by_id(obj, token)
        if template is not None:
            return web.json_response(TemplateLister.fields(template,
                                                           request.query))
        media = self.live_media(obj)
        if media is None or self.state.accounts[media.pnid].token != token:
            raise missing_object(obj, request.method)
        return web.json_response(self.media_info(media))

    def account_fields(self, account: Account, request) -> dict:
        info = account.info()
        wanted = [f for f in request.query.get("fields", "").split(",") if f]
        if not wanted:
            return info
        return {k: v for k, v in info.items() if k in wanted or k == "id"}

    def media_info(self, media: Media) -> dict:
        size = len(media.data)
        return {"messaging_product": "whatsapp", "url": self.media_url(media),
                "mime_type": media.mime_type, "sha256": media.sha256_hex(),
                "file_size": str(size) if self.config.file_size_as_string
                else size, "id": media.id}

    def template_by_id(self, tid: str, token: str) -> Optional[dict]:
        """The template tid of a WABA that token may use, if any."""
        wabas = {a.waba_id for a in self.state.accounts.values()
                 if a.token == token}
        for waba in wabas:
            for tpl in self.state.templates.get(waba, []):
                if tpl["id"] == tid:
                    return tpl
        return None

    async def list_templates(self, request: web.Request) -> web.Response:
        """GET /<WABA_ID>/message_templates (part E.2)."""
        waba = request.match_info["waba"]
        token = self.bearer(request)
        owners = [a for a in self.state.accounts.values()
                  if a.waba_id == waba and a.token == token]
        if not owners:
            raise missing_object(waba, request.method)
        if SCOPES[0] not in owners[0].scopes:
            raise GraphError(200, http=403, data=False, message="(#200) "
                             "Requires whatsapp_business_management "
                             "permission to manage the object")
        templates = self.state.templates.get(waba, [])
        return web.json_response(TemplateLister(self).listing(request,
                                                              templates))

    async def delete_media(self, request: web.Request) -> web.Response:
        obj = request.match_info["obj"]
        token = self.bearer(request)
        media = self.live_media(obj)
        if media is None or self.state.accounts[media.pnid].token != token:
            raise missing_object(obj, request.method)
        media.deleted = True
        return web.json_response({"success": True})

    async def download(self, request: web.Request) -> web.Response:
        """The media download URL: Bearer required, 404 once expired."""
        entry = self.state.download_urls.get(request.query.get("hash", ""))
        media = self.live_media(entry[0]) if entry else None
        header = request.headers.get("Authorization", "")
        owner = self.state.accounts.get(media.pnid) if media else None
        if owner is None or entry[1] < time.time():
            return web.Response(status=404, text="Not Found")
        if header != f"Bearer {owner.token}":
            return web.Response(status=401, text="Unauthorized")
        return web.Response(body=media.data,
                            headers={"Content-Type": media.mime_type})

    async def upload_media(self, request: web.Request) -> web.Response:
        account = self.authorize(request, request.match_info["pnid"])
        form = await request.post()
        upload = form.get("file")
        request["record"]["json"] = self.form_summary(form)
        if form.get("messaging_product") != "whatsapp":
            raise param_error("The parameter messaging_product is required.")
        if not isinstance(upload, web.FileField):
            raise param_error("The parameter file is required.")
        data = upload.file.read()
        mime = self.upload_mime(form.get("type"), upload.content_type, data)
        media = self.add_media(account.pnid, data, mime, upload.filename,
                               UPLOAD_TTL)
        return web.json_response({"id": media.id})

    @staticmethod
    def form_summary(form) -> dict:
        out = {}
        for key, value in form.items():
            if isinstance(value, web.FileField):
                out[key] = {"filename": value.filename,
                            "content_type": value.content_type}
            else:
                out[key] = value
        return out

    @staticmethod
    def upload_mime(declared, part_type, data: bytes) -> str:
        """Check type, file part type and size; the stored mime type."""
        mime = declared or part_type or ""
        if base_mime(mime) not in UPLOAD_MIME:
            raise param_error("Param file must be a file with one of the "
                              "following types: " + ", ".join(UPLOAD_MIME))
        if declared and part_type and part_type != \
                "application/octet-stream" and \
                base_mime(part_type) != base_mime(declared):
            raise GraphError(131053, "Media upload error: the mime type "
                             f"{part_type} does not match {declared}.")
        kind, limit = UPLOAD_MIME[base_mime(mime)]
        if len(data) > limit:
            raise GraphError(131053, f"Media file size too big for {kind}: "
                             f"max {limit} bytes.")
        return mime

    async def send_messages(self, request: web.Request) -> web.Response:
        account = self.authorize(request, request.match_info["pnid"])
        body = request["record"]["json"]
        if isinstance(body, dict) and body.get("status") == "read":
            return self.mark_read(account, body)
        if self.config.maintenance:
            raise GraphError(131057)
        out = self.validator.check(account, body)
        self.check_limits(account, out.wa_id)
        failure = self.outcome(out)
        entry = self.record_sent(out, failure)
        await self.after_send(out, entry, failure)
        return web.json_response({
            "messaging_product": "whatsapp",
            "contacts": [{"input": out.to, "wa_id": out.wa_id}],
            "messages": [{"id": entry["wamid"]}]})

    def mark_read(self, account: Account, body: dict) -> web.Response:
        self.validator.product(body)
        message_id = body.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            raise param_error("The parameter message_id is required.")
        typing = body.get("typing_indicator")
        if typing is not None and typing != {"type": "text"}:
            raise param_error("Param typing_indicator['type'] must be "
                              "one of {TEXT}.")
        known = message_id in self.state.known_wamids.get(account.pnid, ())
        self.state.reads.append({
            "seq": next(self.state.seq), "pnid": account.pnid,
            "message_id": message_id, "typing": typing is not None,
            "known": known, "time": time.time()})
        return web.json_response({"success": True})

    def check_limits(self, account: Account, wa_id: str) -> None:
        """Throughput (130429) then pair rate (131056)."""
        config = self.config
        bucket = self.state.mps_buckets.setdefault(
            account.pnid, TokenBucket(config.mps, config.mps))
        if not bucket.take():
            raise GraphError(130429, http=config.rate_limit_status,
                             headers=self.rate_limit_headers(account))
        pair = self.state.pair_buckets.setdefault(
            (account.pnid, wa_id),
            TokenBucket(1.0 / config.pair_interval, config.pair_burst))
        if not pair.take():
            raise GraphError(131056)

    def rate_limit_headers(self, account: Account) -> dict:
        headers = {}
        if self.config.rate_limit_retry_after is not None:
            headers["Retry-After"] = str(self.config.rate_limit_retry_after)
        if self.config.rate_limit_usage_header:
            usage = {account.waba_id: [{
                "type": "whatsapp", "call_count": 100, "total_cputime": 1,
                "total_time": 1, "estimated_time_to_regain_access": 1}]}
            headers["X-Business-Use-Case-Usage"] = json.dumps(usage)
        return headers

    def outcome(self, out: Outbound) -> Optional[int]:
        """The async failure code for an accepted send, or None."""
        config, state = self.config, self.state
        pnid = out.account.pnid
        if out.wa_id in [digits(n) for n in config.undeliverable]:
            return 131026
        blocked = {digits(k): v for k, v in config.marketing_blocked.items()}
        if out.type == "template" and out.wa_id in blocked and \
                (out.rendered or {}).get("category") == "MARKETING":
            return int(blocked[out.wa_id])
        if out.type != "template" and config.window_enforce and \
                out.wa_id not in config.echo_contacts and \
                not state.window_open(pnid, out.wa_id, config.window_seconds):
            if config.window_sync:
                raise GraphError(131047)
            return 131047
        known = state.known_wamids.get(pnid, set())
        if out.type == "reaction" and out.payload["message_id"] not in known:
            return 131009
        if out.type in MEDIA_TYPES and "id" in out.payload:
            media = self.live_media(str(out.payload["id"]))
            if media is None or media.pnid != pnid:
                return 131053
        return None

    def record_sent(self, out: Outbound, failure: Optional[int]) -> dict:
        wamid = new_wamid(out.wa_id)
        entry = {"seq": next(self.state.seq), "wamid": wamid,
                 "pnid": out.account.pnid, "to": out.to, "wa_id": out.wa_id,
                 "type": out.type, "payload": out.payload, "body": out.body,
                 "context": out.body.get("context"),
                 "template": out.rendered,
                 "rendered": out.rendered["text"] if out.rendered else None,
                 "outcome": f"failed:{failure}" if failure else "accepted",
                 "time": time.time()}
        self.state.sent.append(entry)
        self.state.remember_wamid(out.account.pnid, wamid)
        return entry

    # -- automatic statuses and echo ----------------------------------------

    def planned_statuses(self, out: Outbound, failure) -> list:
        if failure:
            return ["failed"]
        profile = self.config.number_statuses.get(out.wa_id,
                                                  self.config.statuses)
        statuses = status_profile(profile)
        if out.type == "reaction":
            return ["sent"] if statuses else []
        return statuses

    def early(self, wa_id: str) -> bool:
        early = self.config.early_statuses
        return early is True or (isinstance(early, list) and wa_id in early)

    async def after_send(self, out: Outbound, entry: dict, failure) -> None:
        """Statuses (and the echo) now, or in the background."""
        statuses = self.planned_statuses(out, failure)
        if self.early(out.wa_id):
            await self.emit_statuses(out, entry, statuses, failure, 0)
            return
        delay = self.config.status_delay_ms / 1000
        self.spawn(self.emit_statuses(out, entry, statuses, failure, delay))

    async def emit_statuses(self, out, entry, statuses, failure, delay):
        builder = PayloadBuilder(self)
        for name in statuses:
            await asyncio.sleep(delay)
            status = builder.status(entry["wamid"], name, out.wa_id, entry)
            if name == "failed":
                status["errors"] = [error_object(failure)]
            unit = Unit(out.account, "statuses", {"statuses": [status]})
            await self.emitter.send(builder.envelope([unit]), kind="status",
                                    wamids=[entry["wamid"]])
        await self.echo(out, failure)

    async def echo(self, out: Outbound, failure) -> None:
        """Echo contacts answer a text with 'echo: <text>'."""
        name = self.config.echo_contacts.get(out.wa_id)
        if name is None or failure or out.type != "text":
            return
        spec = {"pnid": out.account.pnid, "from": out.wa_id, "name": name,
                "type": "text", "text": "echo: " + out.payload["body"]}
        builder = PayloadBuilder(self)
        unit = builder.message_unit(spec)
        await self.emitter.send(builder.envelope([unit]), kind="message",
                                wamids=unit_wamids([unit]))


# ---------------------------------------------------------------------------
# Control API
# ---------------------------------------------------------------------------


class ControlAPI:
    """The /_control/ endpoints used by tests (see the module docstring)."""

    def __init__(self, fake: FakeCloudAPI):
        self.fake = fake

    def routes(self, app: web.Application) -> None:
        table = [
            ("GET", "state", self.get_state),
            ("GET", "accounts", self.get_accounts),
            ("POST", "accounts", self.post_account),
            ("POST", "config", self.post_config),
            ("POST", "reset", self.post_reset),
            ("POST", "fail", self.post_fail),
            ("GET", "requests", self.get_requests),
            ("GET", "sent", self.get_sent),
            ("GET", "reads", self.get_reads),
            ("POST", "inbound", self.post_inbound),
            ("POST", "status", self.post_status),
            ("POST", "webhook/raw", self.post_raw),
            ("GET", "deliveries", self.get_deliveries),
            ("POST", "verify", self.post_verify),
            ("POST", "window", self.post_window),
            ("GET", "media", self.get_media),
            ("POST", "idle", self.post_idle),
            ("GET", "templates", self.get_templates),
            ("POST", "templates", self.post_templates),
            ("POST", "templates/status", self.post_template_status),
        ]
        for method, path, handler in table:
            app.router.add_route(method, "/_control/" + path, handler)

    @staticmethod
    async def body(request: web.Request) -> dict:
        try:
            body = await request.json() if await request.read() else {}
        except ValueError:
            raise ControlError("body is not JSON") from None
        if not isinstance(body, dict):
            raise ControlError("body must be a JSON object")
        return body

    @property
    def state(self) -> State:
        return self.fake.state

    async def get_state(self, request):
        state = self.state
        return web.json_response({
            "config": self.fake.config.as_dict(),
            "accounts": [dataclasses.asdict(a)
                         for a in state.accounts.values()],
            "fail_rules": state.fail_rules, "base_url": self.fake.base_url,
            "counts": {"requests": len(state.requests),
                       "sent": len(state.sent),
                       "deliveries": len(state.deliveries)}})

    async def get_accounts(self, request):
        return web.json_response([dataclasses.asdict(a)
                                  for a in self.state.accounts.values()])

    async def post_account(self, request):
        account = self.fake.add_account(await self.body(request))
        return web.json_response(dataclasses.asdict(account))

    async def post_config(self, request):
        self.fake.config.update(await self.body(request))
        self.state.mps_buckets.clear()
        self.state.pair_buckets.clear()
        return web.json_response(self.fake.config.as_dict())

    async def post_reset(self, request):
        await self.fake.cancel_tasks()
        self.fake.reset_state()
        return web.json_response({"ok": True})

    async def post_fail(self, request):
        body = await self.body(request)
        rule = {"count": int(body.get("count", 1)),
                "error": normalise_fault(body.get("error", 131000)),
                "path_contains": body.get("path_contains", ""),
                "method": body.get("method")}
        self.state.fail_rules.append(rule)
        return web.json_response(rule)

    async def get_requests(self, request):
        query = request.query
        items = filtered(self.state.requests, query)
        if query.get("path_contains"):
            items = [r for r in items if query["path_contains"] in r["path"]]
        return web.json_response(items)

    async def get_sent(self, request):
        items = filtered(self.state.sent, request.query)
        if request.query.get("to"):
            wa_id = digits(request.query["to"])
            items = [s for s in items if s["wa_id"] == wa_id]
        return web.json_response(items)

    async def get_reads(self, request):
        return web.json_response(filtered(self.state.reads, request.query))

    async def post_inbound(self, request):
        body = await self.body(request)
        builder = PayloadBuilder(self.fake)
        specs = body["batch"] if "batch" in body else [body]
        if not specs:
            raise ControlError("empty batch")
        units = [self.unit(builder, dict(spec), body) for spec in specs]
        payload = builder.envelope(units, body.get("layout", "grouped"))
        wamids = unit_wamids(units)
        kind = "batch" if body.get("batch") else "message"
        delivery = await self.deliver(payload, kind, wamids, body)
        return web.json_response({"wamids": wamids,
                                  "media_ids": builder.media_ids,
                                  "delivery": delivery})

    @staticmethod
    def inherit(spec: dict, outer: dict) -> dict:
        """A batch item inherits pnid from the outer request."""
        if "pnid" in outer and "pnid" not in spec:
            spec = dict(spec, pnid=outer["pnid"])
        return spec

    def unit(self, builder: PayloadBuilder, spec: dict, outer: dict) -> Unit:
        spec = self.inherit(spec, outer)
        if "status" in spec and "wamid" in spec:
            return builder.status_unit(spec)
        return builder.message_unit(spec)

    async def deliver(self, payload, kind, wamids, options) -> dict:
        return await self.fake.emitter.send(
            payload, kind=kind, wamids=wamids,
            signature=options.get("signature", "good"),
            duplicate=options.get("duplicate", 0),
            retry=options.get("retry", True),
            wait=options.get("wait", "first"))

    async def post_status(self, request):
        body = await self.body(request)
        builder = PayloadBuilder(self.fake)
        specs = body["statuses"] if "statuses" in body else [body]
        units = [builder.status_unit(self.inherit(spec, body))
                 for spec in specs]
        payload = builder.envelope(units, body.get("layout", "grouped"))
        wamids = unit_wamids(units)
        delivery = await self.deliver(payload, "status", wamids, body)
        return web.json_response({"wamids": wamids, "delivery": delivery})

    async def post_raw(self, request):
        body = await self.body(request)
        if not isinstance(body.get("body"), str):
            raise ControlError("raw needs body (a string)")
        delivery = await self.deliver(body["body"].encode(), "raw", [], body)
        return web.json_response({"delivery": delivery})

    async def get_deliveries(self, request):
        items = [d.as_dict() for d in self.state.deliveries]
        items = filtered(items, request.query, seq_key="id")
        if request.query.get("wamid"):
            items = [d for d in items if request.query["wamid"] in d["wamids"]]
        return web.json_response(items)

    async def post_verify(self, request):
        result = await self.fake.emitter.verify(await self.body(request))
        return web.json_response(result)

    async def post_window(self, request):
        body = await self.body(request)
        if "wa_id" not in body:
            raise ControlError("window needs wa_id")
        wa_id, pnid = digits(body["wa_id"]), body.get("pnid")
        if body.get("open", True):
            self.state.open_window(pnid or "*", wa_id)
        else:
            self.state.close_window(pnid, wa_id)
        return web.json_response({"wa_id": wa_id, "open": body.get("open",
                                                                   True)})

    async def get_media(self, request):
        media = self.state.media.get(request.query.get("id", ""))
        if media is None:
            raise ControlError("unknown media id")
        return web.json_response({
            "id": media.id, "pnid": media.pnid, "mime_type": media.mime_type,
            "filename": media.filename, "size": len(media.data),
            "sha256": media.sha256_hex(), "deleted": media.deleted,
            "data_b64": base64.b64encode(media.data).decode()})

    def waba(self, spec) -> str:
        """The WABA id named by waba_id or pnid (default: first account)."""
        if spec.get("waba_id"):
            waba = str(spec["waba_id"])
            if not any(a.waba_id == waba
                       for a in self.state.accounts.values()):
                raise ControlError(f"no account has waba_id {waba!r}")
            return waba
        return self.state.default_account(spec.get("pnid")).waba_id

    async def get_templates(self, request):
        waba = self.waba(request.query)
        return web.json_response({"waba_id": waba, "templates":
                                  self.state.templates.get(waba, [])})

    async def post_templates(self, request):
        body = await self.body(request)
        waba = self.waba(body)
        specs = body.get("templates", [body["template"]]
                         if "template" in body else [])
        new = [normalise_template(spec) for spec in specs]
        store = [] if body.get("replace") else \
            self.state.templates.get(waba, [])
        for tpl in new:
            store = [t for t in store if (t["name"], t["language"]) !=
                     (tpl["name"], tpl["language"])] + [tpl]
        self.state.templates[waba] = store
        return web.json_response({"waba_id": waba, "templates": store})

    async def post_template_status(self, request):
        body = await self.body(request)
        waba = self.waba(body)
        tpl = self.find_template(waba, body)
        event = body.get("event") or body.get("status")
        if event not in TEMPLATE_EVENTS:
            raise ControlError(f"bad template event/status {event!r}")
        status = body.get("status") or TEMPLATE_EVENTS[event]
        if status is not None and status not in TEMPLATE_STATUSES:
            raise ControlError(f"bad template status {status!r}")
        tpl["status"] = status or tpl["status"]
        for key in ("rejected_reason", "quality_score"):
            if key in body:
                tpl[key] = body[key]
        out = {"template": tpl}
        if body.get("webhook"):
            payload = self.template_update(waba, tpl, event, body)
            out["delivery"] = await self.deliver(payload, "template", [],
                                                 body)
        return web.json_response(out)

    def find_template(self, waba: str, spec: dict) -> dict:
        for tpl in self.state.templates.get(waba, []):
            if tpl["name"] == spec.get("name") and \
                    spec.get("language", tpl["language"]) == tpl["language"]:
                return tpl
        raise ControlError(f"no template {spec.get('name')!r} in {waba}")

    @staticmethod
    def template_update(waba: str, tpl: dict, event: str, spec: dict) -> dict:
        """A message_template_status_update webhook body (part E.5)."""
        language = tpl["language"]
        if spec.get("language_dash"):
            language = language.replace("_", "-")
        default_reason = None if event == "PENDING_DELETION" else "NONE"
        value = {"event": event, "message_template_id": int(tpl["id"]),
                 "message_template_name": tpl["name"],
                 "message_template_language": language,
                 "reason": spec.get("reason", default_reason),
                 "message_template_category": tpl["category"]}
        for key in ("disable_info", "other_info", "rejection_info"):
            if key in spec:
                value[key] = spec[key]
        change = {"field": "message_template_status_update", "value": value}
        return {"object": "whatsapp_business_account",
                "entry": [{"id": waba, "time": int(time.time()),
                           "changes": [change]}]}

    async def post_idle(self, request):
        timeout = float((await self.body(request)).get("timeout", 5))
        deadline = time.monotonic() + timeout
        while self.fake.tasks and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return web.json_response({"idle": not self.fake.tasks,
                                  "pending": len(self.fake.tasks)})


# ---------------------------------------------------------------------------
# Synchronous helpers for tests
# ---------------------------------------------------------------------------


class LoopThread:
    """An asyncio event loop in a daemon thread, for synchronous callers."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever,
                                       daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(
            timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class FakeThread:
    """A FakeCloudAPI on its own loop thread: start() returns the port."""

    def __init__(self, **kwargs):
        self.loop_thread = LoopThread()
        self.fake = self.loop_thread.run(self._make(kwargs))

    @staticmethod
    async def _make(kwargs) -> FakeCloudAPI:
        return FakeCloudAPI(**kwargs)   # created on the loop it runs on

    def start(self) -> int:
        return self.loop_thread.run(self.fake.start())

    def stop(self) -> None:
        self.loop_thread.run(self.fake.stop())
        self.loop_thread.close()

    @property
    def base_url(self) -> str:
        return self.fake.base_url


class ControlClient:
    """A small urllib client for the control API (JSON in, JSON out)."""

    def __init__(self, base_url: str, timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str, path: str, body=None, **params):
        url = f"{self.base_url}/_control/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            url, data=data, method=method,
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as err:
            raise RuntimeError(f"{method} {path}: {err.code} "
                               f"{err.read().decode()}") from None

    def get(self, path: str, **params):
        return self.request("GET", path, **params)

    def post(self, path: str, body=None):
        return self.request("POST", path, body if body is not None else {})


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def parse_account(text: str) -> dict:
    parts = text.split(":")
    if len(parts) not in (3, 4) or not all(parts[:3]):
        raise argparse.ArgumentTypeError("expected PNID:TOKEN:DISPLAY[:NAME]")
    account = {"pnid": parts[0], "token": parts[1],
               "display_phone_number": parts[2]}
    if len(parts) == 4:
        account["verified_name"] = parts[3]
    return account


def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Fake WhatsApp Cloud API")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--app-secret")
    parser.add_argument("--webhook-url")
    parser.add_argument("--verify-token")
    parser.add_argument("--account", type=parse_account, action="append",
                        default=[], help="PNID:TOKEN:DISPLAY[:NAME]")
    parser.add_argument("--config", type=json.loads, default={},
                        help="initial config as a JSON object")
    parser.add_argument("--sandbox", action="store_true")
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)
    defaults = {"app_secret": "sandbox-secret", "verify_token":
                "sandbox-verify", "webhook_url":
                "http://127.0.0.1:8480/webhook/cloudapi"}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            if not args.sandbox:
                parser.error(f"--{key.replace('_', '-')} is required")
            setattr(args, key, value)
    return args


def sandbox_banner(fake: FakeCloudAPI) -> str:
    pnid, token, display, name = SANDBOX_ACCOUNT
    config = fake.config
    return "\n".join([
        "ferry sandbox network (fake WhatsApp Cloud API)",
        f"  [cloudapi] graph_url    = {fake.base_url}",
        "  [cloudapi] api_version  = v21.0   (any vN.M works)",
        f"  [cloudapi] app_secret   = {config.app_secret}",
        f"  [cloudapi] verify_token = {config.verify_token}",
        f"  register with: phone number id {pnid}, access token {token}",
        f"  business number: +{display} ({name})",
        f"  webhooks go to: {config.webhook_url}",
        f"  echo contact: +{SANDBOX_ECHO[0]} ({SANDBOX_ECHO[1]}) answers "
        "\"echo: <text>\"",
        f"  control API: {fake.base_url}/_control/state", ""])


async def serve(args: argparse.Namespace) -> None:
    fake = FakeCloudAPI(args.host, args.port, app_secret=args.app_secret,
                        webhook_url=args.webhook_url,
                        verify_token=args.verify_token,
                        accounts=args.account, sandbox=args.sandbox,
                        config=args.config)
    port = await fake.start()
    if args.sandbox:
        sys.stderr.write(sandbox_banner(fake))
        sys.stderr.flush()
    print(f"READY {port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO if args.verbose or args.sandbox
                        else logging.WARNING, stream=sys.stderr,
                        format="fake_cloudapi: %(message)s")
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
