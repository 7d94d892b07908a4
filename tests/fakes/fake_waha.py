#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Fake WAHA (devlikeapro/waha, "WhatsApp HTTP API") for ferry's tests and
sandbox: personal WhatsApp accounts driven as linked devices.

Run:  /usr/bin/python3 tests/fakes/fake_waha.py --port 0 --api-key KEY \
          [--webhook-url URL --hmac-key K]   (a global webhook, like
          WHATSAPP_HOOK_URL; sessions normally bring their own)
          [--engine GOWS|NOWEB|WEBJS|WPP] [--only-default] [--host H]
          [--config JSON] [--sandbox] [--verbose]
It prints "READY <port>" on stdout once listening (--port 0 picks a free port).
Import: FakeWAHA (async start()/stop()), or WahaThread (sync start()/stop()
on a private event loop); drive it with fake_cloudapi.ControlClient.

Follows reference/network-apis.md parts B and D (WAHA 2026.7.1).  Every /api/
request needs X-Api-Key (or ?x-api-key=): 401 {"message":"Unauthorized",
"statusCode":401} otherwise, /api/files/ included.  POSTs answer 201.

WAHA side:
  GET  /ping                                   {"message":"pong"} (no key)
  GET  /api/server/version
  POST /api/sessions                           create (start unless start:false)
  GET  /api/sessions[?all=true]   GET|PUT|DELETE /api/sessions/{s}
  POST /api/sessions/{s}/start|stop|restart|logout
  GET  /api/sessions/{s}/me
  GET  /api/{s}/auth/qr[?format=raw]           png | Accept json | {"value"}
  POST /api/{s}/auth/request-code              {"phoneNumber"} -> {"code"}
  POST /api/sendText|sendImage|sendFile|sendVoice|sendVideo|sendLocation|
       sendContactVcard|forwardMessage         201, engine-specific body
  PUT  /api/reaction                           (POST: NestJS 404)
  POST /api/sendSeen  /api/startTyping  /api/stopTyping
  POST /api/{s}/presence                       {"chatId","presence"}
  POST /api/{s}/presence/{chatId}/subscribe  GET /api/{s}/presence/{chatId}
  PUT|DELETE /api/{s}/chats/{chatId}/messages/{messageId}   edit | revoke
  POST /api/{s}/chats/{chatId}/messages/read   ?messages=&days= -> {"ids"}
  GET  /api/{s}/chats/{chatId}/messages        what this session saw
  GET  /api/{s}/chats/{chatId}/picture         {"url"}
  GET  /api/{s}/new-message-id                 {"id"}
  GET  /api/contacts[/all|/check-exists|/profile-picture|/about]?session=
  GET  /api/{s}/profile
  GET  /api/{s}/lids[?limit&offset]  /lids/count  /lids/{lid}  /lids/pn/{pn}
  GET  /api/{s}/groups[?limit&offset&exclude=participants]  /groups/count
  POST /api/{s}/groups/refresh    GET /api/{s}/groups/{id}
  GET  /api/{s}/groups/{id}/participants/v2  /groups/{id}/picture
  PUT  /api/{s}/groups/{id}/subject            POST /api/{s}/groups/{id}/leave
  GET  /api/files/{s}/{name}                   media of inbound messages
  GET  /pps/{name}                             profile pictures (no key, CDN)
Sessions: STOPPED -> STARTING -> SCAN_QR_CODE (the QR rotates every
qr_rotate_seconds, each rotation a new session.status) -> [GOWS with passkey:
PASSKEY_REQUIRED -> PASSKEY_CONFIRMATION_REQUIRED] -> WORKING; FAILED.  A
send to a session not WORKING waits up to not_working_wait seconds, then 422
{"error":"Session status is not as expected...","session","status",
"expected":["WORKING"]}.  With only_default, any other name gets WAHA Core's
422 OnlyDefaultSessionIsAllowed.  Unknown session: 404.

Webhooks: every session's config.webhooks[] plus the global one; events
filtered by each webhook's "events" ("*" = all); the envelope {id: evt_<ulid>,
timestamp (ms), event, session, metadata, me, payload, engine, environment};
headers User-Agent WAHA/2026.7.1, X-Webhook-Request-Id, X-Webhook-Timestamp,
and with hmac.key X-Webhook-Hmac (hex HMAC-SHA512 of the body) and
X-Webhook-Hmac-Algorithm: sha512; customHeaders.  A POST that fails (network
error or not 2xx) is retried per retries {policy constant|linear|exponential,
delaySeconds, attempts}, delays multiplied by retry_delay_scale.  An incoming
message is both a `message` and a `message.any` event (two POSTs, the same
payload.id); an API send is a `message.any` (source "api", or api_source)
then acks.  Each send is recorded with its body, and a sendText's mentions
(the chat ids it names; checked as WAHA does) also as its own "mentions".

Control API (JSON in, JSON out; an error answers 400 {"error": "..."}):
  GET  /_control/state        config, sessions, groups, lids, fail rules, counts
  POST /_control/config       any Config fields; answers the whole config
  POST /_control/reset        back to the start-up state
  POST /_control/fail         {count=1, error: FAULT, path_contains?, method?}
  POST /_control/down         {on: bool} or {seconds: n}: connections to the
                              API are dropped, webhooks are held until up
                              (inject with wait: "none" meanwhile)
  GET  /_control/requests     ?path_contains= ?method= ?since=
  GET  /_control/sent         ?session= ?chat= ?since=: accepted sends {seq,
                              session, path, type, chat_id, id, key_id, body,
                              response_status, response, time}
  GET  /_control/reads        ?session=: sendSeen, messages/read, typing,
                              presence, subscriptions, edits, revokes
  GET  /_control/deliveries   ?since= ?event= ?session= ?payload_id=
  POST /_control/idle         {timeout=5}: wait until no background work
  Sessions ({session} defaults to the only/first session):
  POST /_control/scan         {session, phone?, push_name?}: the phone scanned
                              the QR (or typed the pairing code)
  POST /_control/passkey      {session}: the passkey step is done (next step)
  POST /_control/rotate       {session}: rotate the QR now
  POST /_control/fail_session {session}: -> FAILED
  POST /_control/logout       {session, then?: FAILED|SCAN_QR_CODE|STOPPED}:
                              logged out from the phone
  POST /_control/status       {session, status, data?}: force a status
  POST /_control/silent       {session, on}: WORKING but no events; they are
                              replayed when the session restarts
  Events (each answers {ids, delivery} and takes the delivery options
  signature: good|bad|none|tamper|upper, duplicate: n (identical extra
  POSTs), retry: bool, wait: first|final|none):
  POST /_control/inbound      message spec below
  POST /_control/ack          {session, id, ack: SERVER|DEVICE|READ|PLAYED|
                              ERROR|n, participant?}
  POST /_control/reaction     {session, from, chat?, message_id, text}
  POST /_control/edit         {session, from, chat?, message_id, text}
  POST /_control/revoke       {session, from, chat?, message_id}
  POST /_control/presence     {session, chat | from, presence, last_seen?,
                              participant?}
  POST /_control/call         {session, from, video?, group?}
  POST /_control/event        {session, event, payload}: anything raw
  POST /_control/webhook/raw  {session, body: str, url?}: these exact bytes
  Directory:
  POST /_control/contact      {id|phone, name?, push_name?, picture: bool}
  POST /_control/lid          {lid, pn|null}: the lid <-> phone mapping
  POST /_control/group        {session, id?, subject, description?,
                              participants: [{phone?, lid?, pn: bool, role,
                              name?}], announce: bool (group.v2.join)}
  POST /_control/group/participants {session, group, type: join|leave|
                              promote|demote, participants: [...]} (a
                              promote or demote of a lid with pn: true
                              gives the member its number)
  POST /_control/group/update {session, group, subject?, description?,
                              picture?: bool}
  POST /_control/group/leave  {session, group}: the account was removed

Message spec (POST /_control/inbound): session; from (phone, +phone, or a
full id "<n>@c.us"/"<n>@lid"); lid: true (sender as @lid) with pn: true|false
(the mapping known or not); chat (a group id: a group message from `from`);
name (push name); type: text | image | video | document | audio | voice |
sticker | location | vcard | poll | view_once; text; caption, filename,
mimetype, data | data_b64, media: "ok" | "null" | "error"; latitude,
longitude, name_of_place, address, location_form: normalized | data
(payload.location null, only the engine's _data form); reply_to: {id, participant?, body?} with reply_form: full | bare |
absent; from_me: true (sent from the phone: message.any only, source app);
overlap: both | message | any; id (bare key id), timestamp; no_participant
(group message without participant); mentions: [ids] (in _data, as the
engine puts them: WEBJS mentionedJidList, NOWEB/GOWS contextInfo.mentionedJid
with @s.whatsapp.net); extra (merged into the payload).

FAULT = an HTTP status (500: engine crash body, 502: nginx HTML, 422: not
WORKING, 404, 401, 429, 503), "html502", "empty", "truncated", "drop",
"hang" (seconds), "garbled200", or {status|kind, seconds?, after?}; with
"after": true the request is handled first (a send is recorded and its events
follow) and only the answer is replaced.
"""

import argparse
import asyncio
import base64
import dataclasses
import datetime
import hashlib
import hmac
import itertools
import json
import logging
import os
import re
import secrets
import struct
import sys
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Optional

import aiohttp
from aiohttp import web

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_cloudapi  # noqa: E402
from fake_cloudapi import (HTML_502, ControlClient, ControlError,  # noqa
                           LoopThread, bad_request, tamper)

log = logging.getLogger("fake_waha")
__all__ = ["FakeWAHA", "WahaThread", "ControlClient", "LoopThread", "sign",
           "chat_id", "serialized", "main"]

VERSION = "2026.7.1"
ENGINES = ("GOWS", "NOWEB", "WEBJS", "WPP")
STATUSES = ("STOPPED", "STARTING", "SCAN_QR_CODE", "WORKING", "FAILED",
            "PASSKEY_REQUIRED", "PASSKEY_CONFIRMATION_REQUIRED")
ACKS = {"ERROR": -1, "PENDING": 0, "SERVER": 1, "DEVICE": 2, "READ": 3,
        "PLAYED": 4}
ACK_NAMES = {v: k for k, v in ACKS.items()}
ACK_PROFILES = {
    "none": [], "server": [1], "device": [1, 2], "all": [1, 2, 3],
    "played": [1, 2, 3, 4], "out_of_order": [1, 3, 2],
    "skip_device": [1, 3], "duplicates": [1, 2, 2, 3, 3], "error": [-1],
}
SIGNATURE_MODES = ("good", "bad", "none", "tamper", "upper")
RAW_FAULTS = {"html502": 502, "empty": 500, "truncated": 500, "drop": 0,
              "hang": 504, "garbled200": 200}
EVENTS = ("session.status", "message", "message.any", "message.reaction",
          "message.ack", "message.ack.group", "message.waiting",
          "message.revoked", "message.edited", "presence.update",
          "group.v2.join", "group.v2.leave", "group.v2.update",
          "group.v2.participants", "poll.vote", "poll.vote.failed",
          "chat.archive", "call.received", "call.accepted", "call.rejected",
          "label.upsert", "label.deleted", "label.chat.added",
          "label.chat.deleted", "event.response", "engine.event",
          "state.change", "group.join", "group.leave")
SEND_PATHS = ("sendText", "sendImage", "sendFile", "sendVoice", "sendVideo",
              "sendLocation", "sendContactVcard", "forwardMessage")
MEDIA_SENDS = {"sendImage": "image", "sendFile": "document",
               "sendVoice": "voice", "sendVideo": "video"}
INBOUND_MEDIA = {"image": "image/jpeg", "video": "video/mp4",
                 "document": "application/pdf",
                 "audio": "audio/mpeg", "voice": "audio/ogg; codecs=opus",
                 "sticker": "image/webp"}
EXTENSIONS = {"image/jpeg": "jpeg", "image/png": "png", "video/mp4": "mp4",
              "application/pdf": "pdf", "audio/mpeg": "mp3",
              "audio/ogg": "oga", "image/webp": "webp"}
DEFAULT_RETRIES = {"policy": "constant", "delaySeconds": 2, "attempts": 15}
SANDBOX_ECHO = ("15550002222", "Sandbox Echo")
SANDBOX_GROUP = ("120363000000000001@g.us", "ferry sandbox")
# name, phone, lid, pn known, role
SANDBOX_MEMBERS = (
    ("Ana", "15550003331", "201000000000001", True, "superadmin"),
    ("Bruno", "15550003332", "201000000000002", False, "admin"),
    ("Chiara", "15550003333", None, True, "participant"),
)
UNAUTHORIZED = {"message": "Unauthorized", "statusCode": 401}
NOT_WORKING = ("Session status is not as expected. Try again later or "
               "restart the session")
ONLY_DEFAULT = ("WAHA Core support only 'default' session. If you want to "
                "run more then one WhatsApp account - please get WAHA PLUS "
                "version. Check this out: https://waha.devlike.pro/")
MB = 1024 * 1024

# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def waha_json(obj) -> bytes:
    """Serialise like node's JSON.stringify: UTF-8, no spaces."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def sign(body: bytes, key: str) -> str:
    """The X-Webhook-Hmac value: lowercase hex HMAC-SHA512."""
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def digits(text) -> str:
    return re.sub(r"\D", "", str(text or ""))


def now_ms() -> int:
    return int(time.time() * 1000)


_ULID = "0123456789abcdefghjkmnpqrstvwxyz"


def event_id() -> str:
    """evt_ + a lower-case ULID (48-bit ms time, 80 random bits)."""
    value = (now_ms() << 80) | secrets.randbits(80)
    chars = [_ULID[(value >> (5 * i)) & 31] for i in range(26)]
    return "evt_" + "".join(reversed(chars))


def key_id(engine: str) -> str:
    """A WhatsApp message key id as the engine makes them."""
    if engine in ("WEBJS", "WPP"):
        return "3EB0" + secrets.token_hex(9).upper()
    return secrets.token_hex(16).upper()


def chat_id(text: str) -> str:
    """A chat id from a phone, +phone or id; @s.whatsapp.net -> @c.us."""
    text = str(text)
    if "@" in text:
        user, server = text.split("@", 1)
        if server == "s.whatsapp.net":
            server = "c.us"
        return f"{user.split(':')[0]}@{server}"
    return digits(text) + "@c.us"


def serialized(from_me: bool, chat: str, key: str,
               participant: Optional[str] = None) -> str:
    out = f"{'true' if from_me else 'false'}_{chat}_{key}"
    return out + f"_{participant}" if participant else out


def bare_id(message_id: str) -> str:
    """The key id of a serialized id (or the id itself if bare)."""
    parts = message_id.split("_")
    return parts[2] if len(parts) >= 3 else message_id


def png(modules: int, seed: bytes, scale: int = 8) -> bytes:
    """A grey-scale PNG of modules x modules black or white squares, scale
    pixels each, whose pattern depends on seed (a stand-in for a QR)."""
    rows = b""
    for y in range(modules):
        row = bytes(((seed[(x * 7 + y * 13) % len(seed)] >> (x % 8)) & 1)
                    * 255 for x in range(modules) for _ in range(scale))
        rows += (b"\x00" + row) * scale
    size = modules * scale

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 0, 0,
                                         0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def json_response(obj, status: int = 200) -> web.Response:
    """A JSON answer serialised as WAHA (node) does."""
    return web.Response(body=waha_json(obj), status=status,
                        content_type="application/json")


def nest_error(status: int, message, error: str) -> web.Response:
    return json_response({"statusCode": status, "message": message,
                              "error": error}, status=status)


class WahaError(Exception):
    """An API error raised by a handler; answered with its JSON body."""

    def __init__(self, status: int, body: dict):
        super().__init__(status)
        self.status, self.body = status, body

    def response(self) -> web.Response:
        return json_response(self.body, status=self.status)


def unprocessable(message: str) -> WahaError:
    return WahaError(422, {"statusCode": 422, "message": message,
                           "error": "Unprocessable Entity"})


def not_found(message: str = "Session not found") -> WahaError:
    return WahaError(404, {"statusCode": 404, "message": message,
                           "error": "Not Found"})


def validation(*messages: str) -> WahaError:
    return WahaError(400, {"statusCode": 400, "message": list(messages),
                           "error": "Bad Request"})


def engine_crash(request: web.Request, message: str) -> WahaError:
    return WahaError(500, {
        "statusCode": 500,
        "timestamp": datetime.datetime.utcnow().isoformat() + "Z",
        "exception": {"message": message, "name": "Error",
                      "stack": f"Error: {message}\n    at fake_waha"},
        "request": {"path": request.path, "method": request.method,
                    "body": {}, "query": dict(request.query)},
        "version": {"version": VERSION, "engine": "GOWS", "tier": "CORE"}})


def normalise_fault(spec) -> dict:
    if isinstance(spec, dict):
        fault = dict(spec)
    elif isinstance(spec, str) and not spec.isdigit():
        fault = {"kind": spec}
    else:
        fault = {"status": int(spec)}
    if "kind" in fault and fault["kind"] not in RAW_FAULTS:
        raise ControlError(f"unknown fault kind {fault['kind']!r}")
    if "kind" not in fault and not isinstance(fault.get("status"), int):
        raise ControlError(f"bad fault {spec!r}")
    return fault


async def fault_response(request: web.Request, fault: dict):
    kind = fault.get("kind")
    if kind == "hang":
        await asyncio.sleep(float(fault.get("seconds", 600)))
        return web.Response(status=504, text="Gateway Timeout")
    if kind == "drop":
        request["dropped"] = True
        request.transport.abort()
        return web.Response(status=599)
    if kind == "garbled200":
        return web.Response(status=200, body=b'{"key":{"remoteJid":"1',
                            content_type="application/json")
    if kind == "empty":
        return web.Response(status=500, body=b"",
                            content_type="application/json")
    if kind == "truncated":
        body = waha_json(engine_crash(request, "truncated").body)
        return web.Response(status=500, body=body[:len(body) // 2],
                            content_type="application/json")
    status = fault.get("status", RAW_FAULTS.get(kind))
    if kind == "html502" or status == 502:
        return web.Response(status=502, text=HTML_502,
                            content_type="text/html")
    if status == 422:
        return json_response({"error": NOT_WORKING, "session": "default",
                                  "status": "STARTING",
                                  "expected": ["WORKING"]}, status=422)
    if status == 401:
        return json_response(UNAUTHORIZED, status=401)
    if status == 500:
        return engine_crash(request, "fault injected").response()
    return nest_error(status, "fault injected", "Error")


# ---------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------


@dataclass
class Config:
    """Every runtime switch; POST /_control/config sets any of them."""
    api_key: str = ""
    engine: str = "GOWS"
    only_default: bool = False
    base_url: str = ""                # WAHA_BASE_URL for media URLs
    webhook_url: str = ""             # the global webhook (environment)
    webhook_events: list = field(default_factory=lambda: ["*"])
    webhook_hmac_key: str = ""
    webhook_retries: dict = field(default_factory=lambda: dict(
        DEFAULT_RETRIES))
    retry_delay_scale: float = 1.0
    webhook_timeout: float = 10.0
    send_flavor: str = "engine"       # engine | noweb | webjs | empty
    starting_seconds: float = 0.3
    qr_rotate_seconds: float = 20.0   # 0: only on /_control/rotate
    qr_max_rotations: int = 0         # then FAILED; 0: unlimited
    passkey: bool = False             # GOWS asks for a passkey after scan
    auto_scan_seconds: float = -1.0   # >= 0: scanned that long after the
                                      # QR or pairing code was first fetched
    not_working_wait: float = 5.0
    ack_profile: Any = "all"
    number_acks: dict = field(default_factory=dict)
    ack_delay_ms: int = 50
    file_delay_ms: int = 0            # GET /api/files/... answers that late
    early_events: bool = False        # message.any/acks before the answer
    # the source of an API send's message.any: "api", or "app" as an engine
    # that tells them not from the phone's (in a group, the id then names
    # the user as its participant too: true_<group>_<key>_<me>)
    api_source: str = "api"
    presence_needs_subscribe: bool = True
    fetch_send_urls: bool = True
    slow_ms: int = 0
    transient: Any = None
    groups_shape: str = "engine"      # engine | array | object
    echo_contacts: dict = field(default_factory=dict)
    sandbox_groups: bool = False

    def update(self, changes: dict) -> None:
        names = {f.name for f in dataclasses.fields(self)}
        for key in changes:
            if key not in names:
                raise ControlError(f"unknown config key {key!r}")
        if changes.get("engine", "GOWS") not in ENGINES:
            raise ControlError("engine must be one of " + ", ".join(ENGINES))
        if changes.get("transient") is not None:
            changes = dict(changes, transient=normalise_fault(
                changes["transient"]))
        for profile in [changes.get("ack_profile", "all")] + list(
                changes.get("number_acks", {}).values()):
            ack_profile(profile)
        for key, value in changes.items():
            setattr(self, key, value)

    def flavor(self) -> str:
        if self.send_flavor != "engine":
            return self.send_flavor
        return "webjs" if self.engine in ("WEBJS", "WPP") else "noweb"


def ack_profile(profile) -> list:
    if isinstance(profile, list):
        return [ACKS[a] if isinstance(a, str) else int(a) for a in profile]
    if profile not in ACK_PROFILES:
        raise ControlError(f"unknown ack profile {profile!r}")
    return ACK_PROFILES[profile]


@dataclass
class Session:
    name: str
    config: dict
    status: str = "STOPPED"
    statuses: list = field(default_factory=list)
    authenticated: bool = False
    phone: str = ""
    push_name: str = ""
    lid: str = ""
    qr: str = ""
    qr_rotations: int = 0
    qr_shown: bool = False
    pairing_phone: str = ""
    status_data: Any = None
    silent: bool = False
    missed: list = field(default_factory=list)
    task: Optional[asyncio.Task] = None
    subscribed: set = field(default_factory=set)
    groups: dict = field(default_factory=dict)
    messages: dict = field(default_factory=dict)  # serialized id -> payload
    activity: int = 0

    def me(self) -> Optional[dict]:
        if not self.authenticated or not self.phone:
            return None
        return {"id": f"{self.phone}@c.us", "pushName": self.push_name,
                "lid": f"{self.lid}@lid",
                "jid": f"{self.phone}:1@s.whatsapp.net"}

    def webhooks(self) -> list:
        return list(self.config.get("webhooks") or [])


@dataclass
class Contact:
    id: str
    name: Optional[str] = None
    push_name: Optional[str] = None
    picture: Optional[str] = None     # file name under /pps/


@dataclass
class Delivery:
    id: int
    event: str
    session: str
    payload_id: Optional[str]
    url: str
    body: bytes
    headers: dict
    retries: dict
    attempts: list = field(default_factory=list)
    done: bool = False
    ok: bool = False
    first: asyncio.Event = field(default_factory=asyncio.Event)
    final: asyncio.Event = field(default_factory=asyncio.Event)

    def as_dict(self) -> dict:
        last = self.attempts[-1]["status"] if self.attempts else None
        return {"id": self.id, "event": self.event, "session": self.session,
                "payload_id": self.payload_id, "url": self.url,
                "body": self.body.decode("utf-8", "replace"),
                "headers": self.headers, "attempts": self.attempts,
                "status": last, "ok": self.ok, "done": self.done}


class State:
    """Everything a reset clears."""

    def __init__(self):
        self.sessions: dict = {}
        self.contacts: dict = {}      # chat id -> Contact
        self.lids: dict = {}          # "<n>@lid" -> "<phone>@c.us" | None
        self.files: dict = {}         # "/api/files/..." -> (bytes, mime)
        self.pictures: dict = {}      # name -> bytes
        self.sent: list = []
        self.reads: list = []
        self.requests: list = []
        self.deliveries: list = []
        self.fail_rules: list = []
        self.held: list = []          # deliveries waiting for the end of down
        self.seq = itertools.count(1)
        self.phones = itertools.count(1)
        self.down_until: float = 0.0

    def session(self, name: Optional[str]) -> Session:
        """A session for the control API: by name, or the first one."""
        if name is None:
            if not self.sessions:
                raise ControlError("no session")
            return next(iter(self.sessions.values()))
        if name not in self.sessions:
            raise ControlError(f"unknown session {name!r}")
        return self.sessions[name]


def filtered(items: list, query, seq_key: str = "seq") -> list:
    since = int(query.get("since", 0) or 0)
    out = [i for i in items if i[seq_key] > since]
    for key in ("session", "method", "event", "payload_id", "type"):
        if query.get(key):
            out = [i for i in out if i.get(key) == query[key]]
    if query.get("chat"):
        out = [i for i in out if i.get("chat_id") == chat_id(query["chat"])]
    if query.get("path_contains"):
        out = [i for i in out if query["path_contains"] in i["path"]]
    return out


# ---------------------------------------------------------------------------
# Webhook emitter
# ---------------------------------------------------------------------------


class Emitter:
    """Builds envelopes, signs them and POSTs them to every subscriber."""

    def __init__(self, fake: "FakeWAHA"):
        self.fake = fake
        self.ids = itertools.count(1)
        self.http: Optional[aiohttp.ClientSession] = None
        self.lock = asyncio.Lock()

    async def start(self) -> None:
        self.http = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self.http:
            await self.http.close()

    def targets(self, session: Session, event: str) -> list:
        """(url, hmac key, retries, custom headers) subscribed to event."""
        config = self.fake.config
        hooks = session.webhooks()
        if config.webhook_url:
            hooks.append({"url": config.webhook_url,
                          "events": config.webhook_events,
                          "hmac": {"key": config.webhook_hmac_key or None},
                          "retries": config.webhook_retries})
        out = []
        for hook in hooks:
            events = hook.get("events") or []
            if not hook.get("url") or ("*" not in events
                                       and event not in events):
                continue
            key = (hook.get("hmac") or {}).get("key")
            headers = {h["name"]: h["value"]
                       for h in hook.get("customHeaders") or []}
            out.append((hook["url"], key, hook.get("retries")
                        or DEFAULT_RETRIES, headers))
        return out

    def envelope(self, session: Session, event: str, payload) -> dict:
        config = self.fake.config
        return {"id": event_id(), "timestamp": now_ms(), "event": event,
                "session": session.name,
                "metadata": session.config.get("metadata") or {},
                "me": session.me(), "payload": payload,
                "engine": config.engine,
                "environment": {"version": VERSION, "engine": config.engine,
                                "tier": "CORE", "browser": None}}

    async def emit(self, session: Session, event: str, payload,
                   options: Optional[dict] = None) -> dict:
        """Send one event to its subscribers; returns the delivery ids."""
        options = options or {}
        if event not in EVENTS:
            raise ControlError(f"unknown event {event!r}")
        if session.silent and event != "session.status":
            session.missed.append((event, payload))
            return {"ids": [], "silent": True}
        session.activity = now_ms()
        body = options.get("raw") or waha_json(
            self.envelope(session, event, payload))
        deliveries = []
        pid = payload.get("id") if isinstance(payload, dict) else None
        for url, key, retries, custom in self.targets(session, event):
            url = options.get("url") or url
            for _ in range(1 + int(options.get("duplicate", 0))):
                deliveries.append(self.delivery(
                    event, session, pid, url, body, key, retries, custom,
                    options.get("signature", "good")))
        for delivery in deliveries:
            self.fake.state.deliveries.append(delivery)
        self.fake.spawn(self.run_all(deliveries, options.get("retry", True)))
        await self.wait(deliveries, options.get("wait", "first"))
        return {"ids": [d.id for d in deliveries],
                "statuses": [d.attempts[0]["status"] if d.attempts else None
                             for d in deliveries]}

    def delivery(self, event, session, pid, url, body, key, retries, custom,
                 mode) -> Delivery:
        if mode not in SIGNATURE_MODES:
            raise ControlError(f"unknown signature mode {mode!r}")
        headers = {"Content-Type": "application/json",
                   "User-Agent": f"WAHA/{VERSION}",
                   "X-Webhook-Request-Id": event_id()[4:],
                   "X-Webhook-Timestamp": str(now_ms())}
        headers.update(custom)
        if key and mode != "none":
            mac = sign(body, key + ("-wrong" if mode == "bad" else ""))
            headers["X-Webhook-Hmac"] = mac.upper() if mode == "upper" \
                else mac
            headers["X-Webhook-Hmac-Algorithm"] = "sha512"
            if mode == "tamper":
                body = tamper(body)
        return Delivery(next(self.ids), event, session.name, pid, url, body,
                        headers, dict(retries))

    @staticmethod
    async def wait(deliveries: list, wait: str) -> None:
        if wait not in ("first", "final", "none"):
            raise ControlError(f"bad wait {wait!r}")
        for delivery in deliveries:
            if wait == "first":
                await delivery.first.wait()
            elif wait == "final":
                await delivery.final.wait()

    async def run_all(self, deliveries: list, retry: bool) -> None:
        """In order: each first attempt after the previous one's."""
        async with self.lock:
            for delivery in deliveries:
                while self.fake.is_down():
                    await asyncio.sleep(0.05)
                self.fake.spawn(self.run(delivery, retry))
                await delivery.first.wait()

    def delay(self, retries: dict, n: int) -> float:
        """Seconds before attempt n + 1 (n >= 1)."""
        base = float(retries.get("delaySeconds", 2))
        policy = retries.get("policy", "constant")
        if policy == "linear":
            seconds = base * n
        elif policy == "exponential":
            seconds = base * 2 ** (n - 1) * (1 + secrets.randbelow(200)
                                             / 1000 - 0.1)
        else:
            seconds = base
        return seconds * self.fake.config.retry_delay_scale

    async def run(self, delivery: Delivery, retry: bool) -> None:
        attempts = max(1, int(delivery.retries.get("attempts", 15)))
        try:
            for n in range(1, attempts + 1):
                if n > 1:
                    await asyncio.sleep(self.delay(delivery.retries, n - 1))
                status = await self.attempt(delivery, n)
                delivery.first.set()
                if status is not None and 200 <= status < 300:
                    delivery.ok = True
                    break
                if not retry:
                    break
        finally:
            delivery.done = True
            delivery.first.set()
            delivery.final.set()

    async def attempt(self, delivery: Delivery, n: int) -> Optional[int]:
        status, error = None, None
        try:
            timeout = aiohttp.ClientTimeout(
                total=self.fake.config.webhook_timeout)
            async with self.http.post(delivery.url, data=delivery.body,
                                      headers=delivery.headers,
                                      timeout=timeout) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        delivery.attempts.append({"n": n, "status": status, "error": error,
                                  "time": time.time()})
        log.info("webhook %s #%d attempt %d -> %s", delivery.event,
                 delivery.id, n, status or error)
        return status


# ---------------------------------------------------------------------------
# Session lifecycle
# ---------------------------------------------------------------------------


class Lifecycle:
    """Status changes of sessions, each one a session.status event."""

    def __init__(self, fake: "FakeWAHA"):
        self.fake = fake

    async def set_status(self, session: Session, status: str,
                         data=None) -> None:
        session.status = status
        session.status_data = data
        session.statuses = (session.statuses + [
            {"status": status, "timestamp": now_ms()}])[-3:]
        payload = {"name": session.name, "status": status,
                   "statuses": list(session.statuses), "data": data}
        log.info("session %s -> %s", session.name, status)
        await self.fake.emitter.emit(session, "session.status", payload,
                                     {"wait": "none"})

    def replace_task(self, session: Session, coro) -> None:
        if session.task is not None and not session.task.done() and \
                session.task is not asyncio.current_task():
            session.task.cancel()
        session.task = self.fake.spawn(coro) if coro is not None else None

    async def start(self, session: Session) -> None:
        if session.status not in ("STOPPED", "FAILED"):
            return
        await self.set_status(session, "STARTING")
        self.replace_task(session, self.after_start(session))

    async def after_start(self, session: Session) -> None:
        await asyncio.sleep(self.fake.config.starting_seconds)
        if session.authenticated:
            await self.working(session)
        else:
            await self.show_qr(session)

    async def show_qr(self, session: Session) -> None:
        """SCAN_QR_CODE with a fresh QR, then rotate it."""
        session.qr = "2@" + base64.b64encode(secrets.token_bytes(48)).decode()
        await self.set_status(session, "SCAN_QR_CODE")
        config = self.fake.config
        if config.qr_rotate_seconds > 0:
            self.replace_task(session, self.rotate_later(session))

    async def rotate_later(self, session: Session) -> None:
        await asyncio.sleep(self.fake.config.qr_rotate_seconds)
        await self.rotate(session)

    async def rotate(self, session: Session) -> None:
        if session.status != "SCAN_QR_CODE":
            raise ControlError(f"session is {session.status}")
        session.qr_rotations += 1
        limit = self.fake.config.qr_max_rotations
        if limit and session.qr_rotations > limit:
            await self.set_status(session, "FAILED")
            return
        await self.show_qr(session)

    def qr_fetched(self, session: Session) -> None:
        """The sandbox scans a few seconds after the QR is first shown."""
        seconds = self.fake.config.auto_scan_seconds
        if session.qr_shown or seconds < 0:
            return
        session.qr_shown = True
        self.fake.spawn(self.auto_scan(session, seconds))

    async def auto_scan(self, session: Session, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if session.status == "SCAN_QR_CODE":
            await self.scan(session, {})

    async def scan(self, session: Session, spec: dict) -> None:
        """The phone scanned the QR code (or entered the pairing code)."""
        if session.status != "SCAN_QR_CODE":
            raise ControlError(f"session is {session.status}, not "
                               "SCAN_QR_CODE")
        self.replace_task(session, None)
        phone = digits(spec.get("phone") or session.pairing_phone
                       or session.phone) or \
            f"1555010{next(self.fake.state.phones):04d}"
        session.phone = phone
        session.push_name = spec.get("push_name") or session.push_name or \
            f"User {phone[-4:]}"
        session.lid = session.lid or str(10 ** 14 + int(phone[-9:]))
        self.fake.state.lids[f"{session.lid}@lid"] = f"{phone}@c.us"
        if self.fake.config.passkey and self.fake.config.engine == "GOWS":
            await self.set_status(session, "PASSKEY_REQUIRED", {
                "challenge": base64.urlsafe_b64encode(
                    secrets.token_bytes(32)).decode().rstrip("="),
                "rpId": "web.whatsapp.com", "timeout": 60000,
                "userVerification": "preferred"})
            return
        session.authenticated = True
        await self.working(session)

    async def passkey(self, session: Session) -> None:
        if session.status == "PASSKEY_REQUIRED":
            code = f"{secrets.randbelow(10 ** 6):06d}"
            await self.set_status(session, "PASSKEY_CONFIRMATION_REQUIRED",
                                  {"code": code})
        elif session.status == "PASSKEY_CONFIRMATION_REQUIRED":
            session.authenticated = True
            await self.working(session)
        else:
            raise ControlError(f"session is {session.status}")

    async def working(self, session: Session) -> None:
        self.replace_task(session, None)
        session.qr_rotations = 0
        session.qr_shown = False
        if self.fake.config.sandbox_groups:
            self.fake.sandbox.join_group(session)
        await self.set_status(session, "WORKING")
        missed, session.missed = session.missed, []
        for event, payload in missed:
            await self.fake.emitter.emit(session, event, payload,
                                         {"wait": "none"})

    async def stop(self, session: Session) -> None:
        self.replace_task(session, None)
        if session.status != "STOPPED":
            await self.set_status(session, "STOPPED")

    async def fail(self, session: Session) -> None:
        self.replace_task(session, None)
        await self.set_status(session, "FAILED")

    async def logout(self, session: Session, then: str) -> None:
        """Logged out (API call, or from the phone with `then`)."""
        session.authenticated = False
        session.phone = session.pairing_phone = ""
        self.replace_task(session, None)
        if then == "SCAN_QR_CODE":
            await self.set_status(session, "STARTING")
            self.replace_task(session, self.after_start(session))
        elif then in ("FAILED", "STOPPED"):
            await self.set_status(session, then)
        else:
            raise ControlError(f"bad logout target {then!r}")


# ---------------------------------------------------------------------------
# Payloads
# ---------------------------------------------------------------------------


class Payloads:
    """WAMessage and event payloads of part B.5."""

    def __init__(self, fake: "FakeWAHA"):
        self.fake = fake

    def sender(self, spec: dict) -> str:
        """The sender's id: @c.us, or @lid (with or without a pn)."""
        raw = spec.get("from")
        if raw is None:
            raise ControlError("a spec needs 'from'")
        sender = chat_id(raw)
        if spec.get("lid") and sender.endswith("@c.us"):
            phone = sender.split("@")[0]
            lid = f"{2 * 10 ** 14 + int(phone[-9:])}@lid"
            self.fake.state.lids[lid] = sender if spec.get("pn", True) \
                else self.fake.state.lids.get(lid)
            sender = lid
        if spec.get("name"):
            self.fake.contact(sender).push_name = spec["name"]
        return sender

    def message(self, session: Session, spec: dict) -> dict:
        """A WAMessage for an inbound (or phone-sent) message spec."""
        me = session.me() or {"id": "0@c.us"}
        sender = self.sender(spec)
        group = chat_id(spec["chat"]) if spec.get("chat") else None
        from_me = bool(spec.get("from_me"))
        key = spec.get("id") or key_id(self.fake.config.engine)
        chat = group or sender
        participant = sender if group and not from_me else None
        mid = serialized(from_me, chat, key, participant)
        payload = {"id": mid, "timestamp": int(spec.get("timestamp",
                                                        time.time())),
                   "from": me["id"] if from_me else chat,
                   "fromMe": from_me, "source": "app",
                   "to": chat if from_me else me["id"],
                   "participant": None if spec.get("no_participant")
                   else participant,
                   "body": spec.get("text", spec.get("body", "")),
                   "hasMedia": False, "media": None, "ack": 1,
                   "ackName": "SERVER", "location": None, "vCards": [],
                   "replyTo": None,
                   "_data": {"notifyName": spec.get("name")}}
        if group and participant and not spec.get("no_participant"):
            payload["author"] = participant
        self.content(session, payload, spec)
        if spec.get("mentions"):
            self.mentions(payload, [chat_id(m) for m in spec["mentions"]])
        if spec.get("reply_to"):
            payload["replyTo"] = self.reply(spec)
        payload.update(spec.get("extra", {}))
        session.messages[mid] = payload
        return payload

    def mentions(self, payload: dict, ids: list) -> None:
        """Mentions stay engine-specific, in _data (not normalized)."""
        if self.fake.config.engine in ("WEBJS", "WPP"):
            payload["_data"]["mentionedJidList"] = ids
            return
        jids = [i.replace("@c.us", "@s.whatsapp.net") for i in ids]
        payload["_data"]["message"] = {"extendedTextMessage": {
            "text": payload["body"],
            "contextInfo": {"mentionedJid": jids}}}

    def content(self, session: Session, payload: dict, spec: dict) -> None:
        mtype = spec.get("type", "text")
        if mtype in INBOUND_MEDIA:
            self.media(session, payload, spec, mtype)
        elif mtype == "location":
            self.location(payload, spec)
        elif mtype == "vcard":
            payload["vCards"] = [spec.get("vcard") or (
                "BEGIN:VCARD\nVERSION:3.0\nFN:Jane Doe\n"
                "TEL;type=CELL;waid=15551234567:+1 555 123 4567\nEND:VCARD")]
        elif mtype == "poll":
            payload["body"] = ""
            payload["_data"]["pollCreationMessage"] = {
                "name": spec.get("text", "Lunch?"),
                "options": [{"optionName": "yes"}, {"optionName": "no"}]}
        elif mtype == "view_once":
            payload["body"] = ""
            payload["hasMedia"] = True
            payload["_data"]["viewOnceMessageV2"] = {}
        elif mtype != "text":
            raise ControlError(f"unknown inbound type {mtype!r}")

    def location(self, payload: dict, spec: dict) -> None:
        """payload.location (coordinates as strings) and the engine's own
        form in _data: WEBJS/WPP type "location" with lat/lng numbers,
        NOWEB/GOWS message.locationMessage with degreesLatitude/Longitude.
        location_form "data": payload.location left null (only _data)."""
        lat = float(spec.get("latitude", "52.52"))
        lng = float(spec.get("longitude", "13.405"))
        name, address = spec.get("name_of_place"), spec.get("address")
        if spec.get("location_form", "normalized") == "normalized":
            payload["location"] = {"latitude": str(spec.get("latitude",
                                                            "52.52")),
                                   "longitude": str(spec.get("longitude",
                                                             "13.405")),
                                   "live": False, "name": name,
                                   "address": address}
        elif spec["location_form"] != "data":
            raise ControlError(f"bad location_form {spec['location_form']!r}")
        if self.fake.config.engine in ("WEBJS", "WPP"):
            payload["_data"].update({"type": "location", "lat": lat,
                                     "lng": lng, "loc": name})
        else:
            payload["_data"]["message"] = {"locationMessage": {
                "degreesLatitude": lat, "degreesLongitude": lng,
                "name": name, "address": address}}
        payload["body"] = ""

    def media(self, session, payload, spec, mtype) -> None:
        mime = spec.get("mimetype", INBOUND_MEDIA[mtype])
        if "data_b64" in spec:
            data = base64.b64decode(spec["data_b64"])
        else:
            data = spec.get("data", f"fake {mtype} "
                            f"{secrets.token_hex(8)}").encode()
        ext = EXTENSIONS.get(mime.split(";")[0], "bin")
        path = f"/api/files/{session.name}/{payload['id']}.{ext}"
        self.fake.state.files[path] = (data, mime)
        payload["hasMedia"] = True
        payload["body"] = spec.get("caption", "")
        state = spec.get("media", "ok")
        if state == "null":
            return
        payload["media"] = {"url": self.fake.public_url() + path,
                            "mimetype": mime,
                            "filename": spec.get("filename"),
                            "error": None}
        if state == "error":
            payload["media"]["url"] = None
            payload["media"]["error"] = {"message": "media download failed"}
        if mtype == "voice":
            payload["_data"]["ptt"] = True

    def reply(self, spec: dict) -> Optional[dict]:
        reply = dict(spec["reply_to"])
        form = spec.get("reply_form", "full")
        out = {"participant": reply.get("participant"),
               "body": reply.get("body", ""), "_data": {}}
        if form == "full":
            out["id"] = reply["id"]
        elif form == "bare":
            out["id"] = bare_id(reply["id"])
        elif form != "absent":
            raise ControlError(f"bad reply_form {form!r}")
        return out

    def api_message(self, session: Session, chat: str, key: str,
                    body: dict, kind: str) -> dict:
        """The message.any payload of an API send (source api)."""
        me = session.me()
        source = self.fake.config.api_source
        mid = serialized(True, chat, key,
                         me["id"] if source != "api"
                         and chat.endswith("@g.us") else None)
        payload = {"id": mid, "timestamp": int(time.time()),
                   "from": me["id"], "fromMe": True, "source": source,
                   "to": chat, "participant": None,
                   "body": body.get("text") or body.get("caption") or "",
                   "hasMedia": kind in MEDIA_SENDS, "media": None, "ack": 0,
                   "ackName": "PENDING", "location": None, "vCards": [],
                   "replyTo": None, "_data": {}}
        if body.get("reply_to"):
            payload["replyTo"] = {"id": body["reply_to"], "participant": None,
                                  "body": None, "_data": {}}
        session.messages[mid] = payload
        return payload

    @staticmethod
    def ack(message_id: str, chat: str, me: Optional[dict], ack: int,
            participant=None) -> dict:
        return {"id": message_id, "from": chat,
                "to": (me or {}).get("id"), "participant": participant,
                "fromMe": message_id.startswith("true_"), "ack": ack,
                "ackName": ACK_NAMES.get(ack, "UNKNOWN"), "_data": {}}

    def action(self, session: Session, spec: dict) -> dict:
        """The WAMessage frame of a reaction, edit or revoke by `from`."""
        sender = self.sender(spec)
        group = chat_id(spec["chat"]) if spec.get("chat") else None
        chat = group or sender
        key = key_id(self.fake.config.engine)
        me = session.me() or {"id": "0@c.us"}
        return {"id": serialized(False, chat, key, sender if group else None),
                "timestamp": time.time(), "from": chat, "fromMe": False,
                "source": "app", "to": me["id"],
                "participant": sender, "_data": {}}


def group_info(group: dict, participants: bool = True) -> dict:
    info = {"id": group["id"], "subject": group["subject"],
            "description": group.get("description", ""),
            "invite": f"https://chat.whatsapp.com/{group['invite']}",
            "membersCanAddNewMember": False,
            "membersCanSendMessages": True,
            "newMembersApprovalRequired": False}
    if participants:
        info["participants"] = [dict(p) for p in group["participants"]]
    return info


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------


class FakeWAHA:
    """The fake WAHA API, its webhook emitter and the control API."""

    def __init__(self, host="127.0.0.1", port=0, *, api_key="",
                 webhook_url="", hmac_key="", engine="GOWS",
                 only_default=False, sandbox=False, config=None):
        self.host, self.port = host, port
        self.initial_config = dict(config or {}, api_key=api_key,
                                   engine=engine, only_default=only_default)
        if webhook_url:
            self.initial_config.update(webhook_url=webhook_url,
                                       webhook_hmac_key=hmac_key)
        if sandbox:
            self.initial_config.setdefault("auto_scan_seconds", 3.0)
            self.initial_config.setdefault("sandbox_groups", True)
            self.initial_config.setdefault("qr_rotate_seconds", 30.0)
        self.sandbox_mode = sandbox
        self.tasks: set = set()
        self.emitter = Emitter(self)
        self.lifecycle = Lifecycle(self)
        self.payloads = Payloads(self)
        self.sandbox = Sandbox(self)
        self.runner: Optional[web.AppRunner] = None
        self.reset_state()

    # -- lifecycle ----------------------------------------------------------

    def reset_state(self) -> None:
        self.state = State()
        self.config = Config()
        self.config.update(dict(self.initial_config))
        if self.sandbox_mode:
            self.config.echo_contacts = dict(self.config.echo_contacts, **{
                SANDBOX_ECHO[0]: SANDBOX_ECHO[1]})
        for phone, name in self.config.echo_contacts.items():
            contact = self.contact(chat_id(phone))
            contact.name = contact.push_name = name
            self.set_picture(contact, True)

    async def start(self) -> int:
        await self.emitter.start()
        app = web.Application(middlewares=[self.middleware],
                              client_max_size=110 * MB)
        self.routes(app)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, self.host, self.port).start()
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

    def public_url(self) -> str:
        return (self.config.base_url or self.base_url).rstrip("/")

    # background tasks, tracked for reset/stop/idle (self.tasks)
    spawn = fake_cloudapi.FakeCloudAPI.spawn
    task_done = fake_cloudapi.FakeCloudAPI.task_done
    cancel_tasks = fake_cloudapi.FakeCloudAPI.cancel_tasks

    def is_down(self) -> bool:
        return time.monotonic() < self.state.down_until

    # -- directory ----------------------------------------------------------

    def contact(self, cid: str) -> Contact:
        if cid not in self.state.contacts:
            self.state.contacts[cid] = Contact(cid)
        return self.state.contacts[cid]

    def set_picture(self, contact: Contact, on: bool) -> None:
        if not on:
            contact.picture = None
            return
        name = f"{secrets.token_hex(8)}.png"
        self.state.pictures[name] = png(8, secrets.token_bytes(16))
        contact.picture = name

    def picture_url(self, contact: Optional[Contact]) -> Optional[str]:
        if contact is None or contact.picture is None:
            return None
        return f"{self.base_url}/pps/{contact.picture}"

    # -- routes -------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        ControlAPI(self).routes(app)
        api = Api(self)
        for method, path, handler in api.table():
            app.router.add_route(method, path, handler)
        app.router.add_route("*", "/{tail:.*}", api.unknown_path)

    # -- middleware: down, record, auth, faults, slowness -------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler):
        if request.path.startswith("/_control/"):
            try:
                return await handler(request)
            except WahaError as err:
                return err.response()
            except (ControlError, KeyError, TypeError, ValueError) as exc:
                return bad_request(f"{type(exc).__name__}: {exc}")
        if self.is_down():
            request.transport.abort()
            return web.Response(status=599)
        record = await self.record_request(request)
        response = await self.api_response(request, handler)
        if not request.get("dropped"):
            record["status"] = response.status
            record["response"] = fake_cloudapi.FakeCloudAPI \
                .response_summary(response)
        if self.config.slow_ms:
            await asyncio.sleep(self.config.slow_ms / 1000)
        log.info("%s %s -> %d", request.method, request.path, response.status)
        return response

    async def api_response(self, request, handler):
        if not self.authorized(request):
            return json_response(UNAUTHORIZED, status=401)
        fault = self.take_fault(request)
        if fault is not None and not fault.get("after"):
            return await fault_response(request, fault)
        try:
            response = await handler(request)
        except WahaError as err:
            response = err.response()
        if fault is not None:
            request["record"]["handled_status"] = response.status
            return await fault_response(request, fault)
        return response

    def authorized(self, request: web.Request) -> bool:
        if not request.path.startswith("/api/") or not self.config.api_key:
            return True
        given = request.headers.get("X-Api-Key") or \
            request.query.get("x-api-key") or ""
        return hmac.compare_digest(given.encode(),
                                   self.config.api_key.encode())

    # the next matching fail rule, else config.transient
    take_fault = fake_cloudapi.FakeCloudAPI.take_fault

    async def record_request(self, request: web.Request) -> dict:
        raw = await request.read()
        record = {"seq": next(self.state.seq), "time": time.time(),
                  "method": request.method, "path": request.path,
                  "raw_path": request.raw_path.split("?")[0],
                  "query": dict(request.query),
                  "headers": dict(request.headers), "json": None,
                  "body": raw.decode("utf-8", "replace")[:100000],
                  "status": None, "response": None}
        try:
            record["json"] = json.loads(raw) if raw else None
        except ValueError:
            pass
        request["record"] = record
        self.state.requests.append(record)
        return record

    # -- sessions as the API sees them ---------------------------------------

    def session_for(self, name: str) -> Session:
        if self.config.only_default and name != "default":
            raise unprocessable(ONLY_DEFAULT)
        session = self.state.sessions.get(name)
        if session is None:
            raise not_found()
        return session

    async def wait_status(self, session: Session, wanted: tuple) -> None:
        """WAHA waits up to 5 seconds for the status, then 422."""
        deadline = time.monotonic() + self.config.not_working_wait
        while session.status not in wanted and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if session.status not in wanted:
            raise WahaError(422, {"error": NOT_WORKING,
                                  "session": session.name,
                                  "status": session.status,
                                  "expected": list(wanted)})

    def session_info(self, session: Session) -> dict:
        return {"name": session.name, "status": session.status,
                "config": session.config, "me": session.me(),
                "engine": {"engine": self.config.engine},
                "presence": "online" if session.status == "WORKING"
                else "offline",
                "timestamps": {"activity": session.activity or None}}


async def json_body(request: web.Request) -> dict:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise validation("body must be JSON") from None
    if not isinstance(body, dict):
        raise validation("body must be an object")
    return body


def created(body=None) -> web.Response:
    if body is None:
        return web.Response(status=201)
    return json_response(body, status=201)


# ---------------------------------------------------------------------------
# WAHA API handlers
# ---------------------------------------------------------------------------


class Api:
    """The /api/ endpoints (see the module docstring)."""

    def __init__(self, fake: FakeWAHA):
        self.fake = fake

    @property
    def state(self) -> State:
        return self.fake.state

    def table(self) -> list:
        s = "/api/{s}"
        rows = [
            ("GET", "/ping", self.ping),
            ("GET", "/api/server/version", self.version),
            ("POST", "/api/sessions", self.create_session),
            ("GET", "/api/sessions", self.list_sessions),
            ("GET", "/api/sessions/{name}", self.get_session),
            ("PUT", "/api/sessions/{name}", self.put_session),
            ("DELETE", "/api/sessions/{name}", self.delete_session),
            ("GET", "/api/sessions/{name}/me", self.get_me),
            ("GET", "/pps/{name}", self.profile_picture_file),
            ("GET", "/api/files/{tail:.+}", self.file),
            ("PUT", "/api/reaction", self.reaction),
            ("POST", "/api/sendSeen", self.send_seen),
            ("POST", "/api/startTyping", self.typing),
            ("POST", "/api/stopTyping", self.typing),
            ("GET", "/api/contacts", self.get_contact),
            ("GET", "/api/contacts/all", self.all_contacts),
            ("GET", "/api/contacts/check-exists", self.check_exists),
            ("GET", "/api/contacts/profile-picture", self.contact_picture),
            ("GET", "/api/contacts/about", self.about),
            ("GET", s + "/auth/qr", self.qr),
            ("POST", s + "/auth/request-code", self.request_code),
            ("POST", s + "/presence", self.set_presence),
            ("POST", s + "/presence/{chat}/subscribe", self.subscribe),
            ("GET", s + "/presence/{chat}", self.get_presence),
            ("PUT", s + "/chats/{chat}/messages/{mid}", self.edit),
            ("DELETE", s + "/chats/{chat}/messages/{mid}", self.revoke),
            ("POST", s + "/chats/{chat}/messages/read", self.read_chat),
            ("GET", s + "/chats/{chat}/messages", self.chat_messages),
            ("GET", s + "/chats/{chat}/picture", self.chat_picture),
            ("GET", s + "/new-message-id", self.new_message_id),
            ("GET", s + "/profile", self.profile),
            ("GET", s + "/lids", self.lids),
            ("GET", s + "/lids/count", self.lids_count),
            ("GET", s + "/lids/pn/{pn}", self.lid_by_pn),
            ("GET", s + "/lids/{lid}", self.pn_by_lid),
            ("GET", s + "/groups", self.groups),
            ("GET", s + "/groups/count", self.groups_count),
            ("POST", s + "/groups/refresh", self.groups_refresh),
            ("GET", s + "/groups/{gid}", self.group),
            ("GET", s + "/groups/{gid}/participants/v2", self.participants),
            ("GET", s + "/groups/{gid}/picture", self.group_picture),
            ("PUT", s + "/groups/{gid}/subject", self.group_subject),
            ("POST", s + "/groups/{gid}/leave", self.group_leave),
        ]
        for action in ("start", "stop", "restart", "logout"):
            rows.append(("POST", "/api/sessions/{name}/" + action,
                         getattr(self, "session_" + action)))
        for path in SEND_PATHS:
            rows.append(("POST", "/api/" + path, self.send))
        return rows

    async def unknown_path(self, request):
        return nest_error(404, f"Cannot {request.method} {request.path}",
                          "Not Found")

    async def ping(self, request):
        return json_response({"message": "pong"})

    async def version(self, request):
        return json_response({"version": VERSION,
                                  "engine": self.fake.config.engine,
                                  "tier": "CORE", "browser": None})

    # -- sessions -----------------------------------------------------------

    async def create_session(self, request):
        body = await json_body(request)
        name = body.get("name") or "default"
        if self.fake.config.only_default and name != "default":
            raise unprocessable(ONLY_DEFAULT)
        if name in self.state.sessions:
            raise unprocessable(f"Session '{name}' already exists. Use PUT "
                                "to update it.")
        session = Session(name, body.get("config") or {})
        self.state.sessions[name] = session
        if body.get("start", True):
            await self.fake.lifecycle.start(session)
        return created(self.fake.session_info(session))

    async def list_sessions(self, request):
        everything = request.query.get("all") in ("true", "1")
        return json_response([
            self.fake.session_info(s) for s in self.state.sessions.values()
            if everything or s.status != "STOPPED"])

    def named(self, request) -> Session:
        return self.fake.session_for(request.match_info["name"])

    async def get_session(self, request):
        return json_response(self.fake.session_info(self.named(request)))

    async def put_session(self, request):
        session = self.named(request)
        body = await json_body(request)
        session.config = body.get("config") or {}
        if session.status not in ("STOPPED", "FAILED"):
            await self.fake.lifecycle.stop(session)
            await self.fake.lifecycle.start(session)
        return json_response(self.fake.session_info(session))

    async def delete_session(self, request):
        name = request.match_info["name"]
        if self.fake.config.only_default and name != "default":
            raise unprocessable(ONLY_DEFAULT)
        session = self.state.sessions.pop(name, None)
        if session is not None:
            self.fake.lifecycle.replace_task(session, None)
            session.status = "STOPPED"
        return web.Response(status=200)

    async def get_me(self, request):
        return json_response(self.named(request).me())

    async def session_start(self, request):
        session = self.named(request)
        await self.fake.lifecycle.start(session)
        return created(self.fake.session_info(session))

    async def session_stop(self, request):
        session = self.named(request)
        await self.fake.lifecycle.stop(session)
        return created(self.fake.session_info(session))

    async def session_restart(self, request):
        session = self.named(request)
        await self.fake.lifecycle.stop(session)
        session.silent = False
        await self.fake.lifecycle.start(session)
        return created(self.fake.session_info(session))

    async def session_logout(self, request):
        session = self.named(request)
        running = session.status not in ("STOPPED", "FAILED")
        await self.fake.lifecycle.logout(
            session, "SCAN_QR_CODE" if running else "STOPPED")
        return created(self.fake.session_info(session))

    # -- pairing ------------------------------------------------------------

    def path_session(self, request) -> Session:
        return self.fake.session_for(request.match_info["s"])

    async def qr(self, request):
        session = self.path_session(request)
        await self.fake.wait_status(session, ("SCAN_QR_CODE",))
        self.fake.lifecycle.qr_fetched(session)
        if request.query.get("format") == "raw":
            return json_response({"value": session.qr})
        image = png(33, hashlib.sha256(session.qr.encode()).digest())
        if "application/json" in request.headers.get("Accept", ""):
            return json_response({"mimetype": "image/png",
                                      "data": base64.b64encode(image)
                                      .decode()})
        return web.Response(body=image, content_type="image/png")

    async def request_code(self, request):
        session = self.path_session(request)
        body = await json_body(request)
        phone = digits(body.get("phoneNumber"))
        if not phone:
            raise validation("phoneNumber should not be empty")
        await self.fake.wait_status(session, ("SCAN_QR_CODE",))
        session.pairing_phone = phone
        self.fake.lifecycle.qr_fetched(session)
        letters = "ABCDEFGHJKLMNPQRSTVWXYZ0123456789"
        code = "".join(secrets.choice(letters) for _ in range(8))
        return created({"code": f"{code[:4]}-{code[4:]}"})

    # -- sending ------------------------------------------------------------

    async def working(self, body: dict) -> Session:
        session = self.fake.session_for(body.get("session") or "default")
        await self.fake.wait_status(session, ("WORKING",))
        return session

    async def send(self, request):
        kind = request.path.rsplit("/", 1)[1]
        body = await json_body(request)
        chat = self.check_send(kind, body)   # the pipe validates first
        session = await self.working(body)
        if kind in MEDIA_SENDS:
            await self.check_file(request, body["file"])
        key = body.get("id") or key_id(self.fake.config.engine)
        if "_" in key:
            raise validation("id must be a bare message id")
        response = self.send_response(session, chat, key, body, kind)
        entry = {"seq": next(self.state.seq), "session": session.name,
                 "path": request.path, "type": kind, "chat_id": chat,
                 "id": serialized(True, chat, key), "key_id": key,
                 "body": body, "mentions": body.get("mentions") or [],
                 "time": time.time(),
                 "response_status": 201, "response": response}
        self.state.sent.append(entry)
        events = self.after_send(session, chat, key, body, kind)
        if self.fake.config.early_events:
            await events
        else:
            self.fake.spawn(events)
        if response is None:
            return web.Response(status=201)
        return created(response)

    def check_send(self, kind: str, body: dict) -> str:
        if not isinstance(body.get("chatId"), str) or not body["chatId"]:
            raise validation("chatId should not be empty",
                             "chatId must be a string")
        if kind == "sendText" and not isinstance(body.get("text"), str):
            raise validation("text must be a string")
        if kind in MEDIA_SENDS:
            file = body.get("file")
            if not isinstance(file, dict) or ("url" in file) == (
                    "data" in file):
                raise validation("file must have either url or data")
        if kind == "forwardMessage" and not body.get("messageId"):
            raise validation("messageId should not be empty")
        mentions = body.get("mentions")
        if mentions is not None and (
                kind != "sendText" or not isinstance(mentions, list)
                or not all(isinstance(m, str) and re.fullmatch(
                    r"\d+@(c\.us|lid)", m) for m in mentions)):
            raise validation("each value in mentions must be a chat id")
        return chat_id(body["chatId"])

    async def check_file(self, request, file: dict) -> None:
        """WAHA downloads file.url or decodes file.data; 500 if it can't."""
        if "data" in file:
            try:
                file["_size"] = len(base64.b64decode(file["data"],
                                                     validate=True))
            except (ValueError, TypeError):
                raise engine_crash(request, "Invalid base64 data") from None
            return
        if not self.fake.config.fetch_send_urls:
            return
        try:
            timeout = aiohttp.ClientTimeout(total=10)
            async with self.fake.emitter.http.get(file["url"],
                                                  timeout=timeout) as resp:
                data = await resp.read()
                if resp.status != 200:
                    raise engine_crash(request, "Request failed with status "
                                       f"code {resp.status}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise engine_crash(request, str(exc)) from None
        file["_size"] = len(data)
        file["_sha256"] = hashlib.sha256(data).hexdigest()

    def send_response(self, session, chat, key, body, kind):
        flavor = self.fake.config.flavor()
        if flavor == "empty":
            return None
        ts = int(time.time())
        text = body.get("text") or body.get("caption") or ""
        if flavor == "webjs":
            wid = {"fromMe": True, "remote": chat, "id": key,
                   "_serialized": serialized(True, chat, key)}
            return {"_data": {"id": wid, "body": text, "type": "chat",
                              "t": ts, "from": session.me()["id"],
                              "to": chat, "ack": 0},
                    "id": wid, "ack": 0, "hasMedia": kind in MEDIA_SENDS,
                    "body": text, "type": "chat", "timestamp": ts,
                    "from": session.me()["id"], "to": chat,
                    "fromMe": True}
        remote = chat.replace("@c.us", "@s.whatsapp.net")
        message = {"extendedTextMessage": {"text": text}}
        if kind in MEDIA_SENDS:
            message = {MEDIA_SENDS[kind] + "Message": {
                "mimetype": body["file"].get("mimetype"), "caption": text}}
        return {"key": {"remoteJid": remote, "fromMe": True, "id": key},
                "message": message, "messageTimestamp": str(ts),
                "status": "PENDING"}

    def acks_for(self, chat: str) -> list:
        config = self.fake.config
        profile = config.number_acks.get(chat.split("@")[0],
                                         config.ack_profile)
        return ack_profile(profile)

    async def after_send(self, session, chat, key, body, kind) -> None:
        """message.any (source api), then the acks, then the sandbox."""
        payload = self.fake.payloads.api_message(session, chat, key, body,
                                                 kind)
        wait = {"wait": "first" if self.fake.config.early_events
                else "none"}
        await self.fake.emitter.emit(session, "message.any", payload, wait)
        for ack in self.acks_for(chat):
            await asyncio.sleep(self.fake.config.ack_delay_ms / 1000)
            await self.fake.emitter.emit(session, "message.ack",
                                         Payloads.ack(payload["id"], chat,
                                                      session.me(), ack),
                                         wait)
        await self.fake.sandbox.answer(session, chat, payload, kind)

    async def reaction(self, request):
        body = await json_body(request)
        mid = body.get("messageId")
        if not isinstance(mid, str) or not isinstance(body.get("reaction"),
                                                      str):
            raise validation("messageId and reaction must be strings")
        session = await self.working(body)
        if mid.count("_") < 2:
            raise engine_crash(request, f"Invalid message id: {mid}")
        chat = mid.split("_")[1]
        self.state.sent.append({
            "seq": next(self.state.seq), "session": session.name,
            "path": request.path, "type": "reaction", "chat_id": chat,
            "id": None, "key_id": None, "body": body, "time": time.time(),
            "response_status": 200, "response": {}})
        return json_response({})

    def note(self, request, session: Session, kind: str, **fields) -> None:
        """Record a read/typing/presence/edit/revoke request."""
        self.state.reads.append(dict(
            {"seq": next(self.state.seq), "session": session.name,
             "type": kind, "path": request.path, "time": time.time()},
            **fields))

    async def send_seen(self, request):
        body = await json_body(request)
        session = await self.working(body)
        if not body.get("chatId"):
            raise validation("chatId should not be empty")
        self.note(request, session, "seen", chat_id=chat_id(body["chatId"]),
                  message_ids=body.get("messageIds"),
                  participant=body.get("participant"), body=body)
        return created({})

    async def typing(self, request):
        body = await json_body(request)
        session = await self.working(body)
        kind = "typing" if request.path.endswith("startTyping") else "paused"
        self.note(request, session, kind,
                  chat_id=chat_id(body.get("chatId", "")), body=body)
        return web.Response(status=201)

    async def set_presence(self, request):
        session = self.path_session(request)
        body = await json_body(request)
        await self.fake.wait_status(session, ("WORKING",))
        presence = body.get("presence")
        if presence not in ("online", "offline", "typing", "recording",
                            "paused"):
            raise validation("presence must be one of online, offline, "
                             "typing, recording, paused")
        self.note(request, session, "presence", presence=presence,
                  chat_id=chat_id(body["chatId"]) if body.get("chatId")
                  else None, body=body)
        return web.Response(status=201)

    async def subscribe(self, request):
        session = self.path_session(request)
        await self.fake.wait_status(session, ("WORKING",))
        chat = chat_id(request.match_info["chat"])
        session.subscribed.add(chat)
        self.note(request, session, "subscribe", chat_id=chat)
        return web.Response(status=201)

    async def get_presence(self, request):
        session = self.path_session(request)
        await self.fake.wait_status(session, ("WORKING",))
        chat = chat_id(request.match_info["chat"])
        return json_response({"id": chat, "presences": [{
            "participant": chat, "lastKnownPresence": "offline",
            "lastSeen": None}]})

    async def edit(self, request):
        session = self.path_session(request)
        await self.fake.wait_status(session, ("WORKING",))
        body = await json_body(request)
        if not isinstance(body.get("text"), str):
            raise validation("text must be a string")
        self.edit_or_revoke(request, session, "edit", body)
        return json_response({})

    async def revoke(self, request):
        session = self.path_session(request)
        await self.fake.wait_status(session, ("WORKING",))
        self.edit_or_revoke(request, session, "revoke", {})
        return json_response({})

    def edit_or_revoke(self, request, session, kind, body) -> None:
        mid = request.match_info["mid"]
        chat = chat_id(request.match_info["chat"])
        if mid.count("_") < 2:
            raise engine_crash(request, f"Invalid message id: {mid}")
        self.state.sent.append({
            "seq": next(self.state.seq), "session": session.name,
            "path": request.path, "type": kind, "chat_id": chat, "id": mid,
            "key_id": bare_id(mid), "body": body, "time": time.time(),
            "response_status": 200, "response": {}})
        self.fake.spawn(self.fake.sandbox.after_change(session, chat, mid,
                                                       kind, body))

    async def read_chat(self, request):
        session = self.path_session(request)
        await self.fake.wait_status(session, ("WORKING",))
        chat = chat_id(request.match_info["chat"])
        count = int(request.query.get("messages") or 0) or None
        days = float(request.query.get("days") or 7)
        since = time.time() - days * 86400
        unread = [m for m in session.messages.values()
                  if m.get("from") == chat and not m["fromMe"]
                  and not m.get("_read") and m["timestamp"] >= since]
        unread = unread[-count:] if count else unread
        for message in unread:
            message["_read"] = True
        ids = [m["id"] for m in unread]
        self.note(request, session, "read", chat_id=chat, ids=ids,
                  query=dict(request.query))
        return created({"ids": ids})

    async def chat_messages(self, request):
        session = self.path_session(request)
        await self.fake.wait_status(session, ("WORKING",))
        chat = chat_id(request.match_info["chat"])
        limit = int(request.query.get("limit") or 100)
        items = [{k: v for k, v in m.items() if k != "_read"}
                 for m in session.messages.values()
                 if chat in (m.get("from"), m.get("to"))]
        return json_response(list(reversed(items))[:limit])

    async def chat_picture(self, request):
        self.path_session(request)
        chat = chat_id(request.match_info["chat"])
        return json_response({"url": self.fake.picture_url(
            self.state.contacts.get(chat))})

    async def new_message_id(self, request):
        self.path_session(request)
        return json_response({"id": key_id(self.fake.config.engine)})

    # -- contacts, profile, files ---------------------------------------------

    def query_session(self, request) -> Session:
        return self.fake.session_for(request.query.get("session")
                                     or "default")

    def contact_dict(self, contact: Contact) -> dict:
        number = contact.id.split("@")[0]
        return {"id": contact.id, "number": number, "name": contact.name,
                "pushname": contact.push_name, "shortName": contact.name,
                "isMe": False, "isGroup": contact.id.endswith("@g.us"),
                "isWAContact": True, "isMyContact": contact.name is not None,
                "isBlocked": False}

    async def get_contact(self, request):
        self.query_session(request)
        cid = chat_id(request.query.get("contactId", ""))
        return json_response(self.contact_dict(self.fake.contact(cid)))

    async def all_contacts(self, request):
        self.query_session(request)
        limit = int(request.query.get("limit") or 1000)
        offset = int(request.query.get("offset") or 0)
        items = [self.contact_dict(c) for c in self.state.contacts.values()]
        return json_response(items[offset:offset + limit])

    async def check_exists(self, request):
        self.query_session(request)
        phone = digits(request.query.get("phone"))
        return json_response({"numberExists": bool(phone),
                                  "chatId": f"{phone}@c.us" if phone
                                  else None})

    async def contact_picture(self, request):
        self.query_session(request)
        cid = chat_id(request.query.get("contactId", ""))
        return json_response({"profilePictureURL": self.fake.picture_url(
            self.state.contacts.get(cid))})

    async def about(self, request):
        self.query_session(request)
        return json_response({"about": "Hey there! I am using "
                                  "WhatsApp."})

    async def profile(self, request):
        session = self.path_session(request)
        me = session.me() or {}
        return json_response({"id": me.get("id"),
                                  "name": session.push_name,
                                  "status": "Hey there!", "picture": None})

    async def file(self, request):
        entry = self.state.files.get(request.path)
        if entry is None:
            return nest_error(404, "File not found", "Not Found")
        data, mime = entry
        if self.fake.config.file_delay_ms > 0:
            await asyncio.sleep(self.fake.config.file_delay_ms / 1000)
        return web.Response(body=data, content_type=mime.split(";")[0])

    async def profile_picture_file(self, request):
        data = self.state.pictures.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=data, content_type="image/png")

    # -- lids ---------------------------------------------------------------

    async def lids(self, request):
        session = self.path_session(request)
        await self.fake.wait_status(session, ("WORKING",))
        limit = int(request.query.get("limit") or 100)
        offset = int(request.query.get("offset") or 0)
        items = [{"lid": lid, "pn": pn}
                 for lid, pn in sorted(self.state.lids.items())]
        return json_response(items[offset:offset + limit])

    async def lids_count(self, request):
        session = self.path_session(request)
        await self.fake.wait_status(session, ("WORKING",))
        return json_response({"count": len(self.state.lids)})

    async def pn_by_lid(self, request):
        session = self.path_session(request)
        await self.fake.wait_status(session, ("WORKING",))
        lid = request.match_info["lid"]
        lid = lid if "@" in lid else lid + "@lid"
        if not lid.endswith("@lid"):
            raise unprocessable("Invalid LID - it must end with @lid")
        return json_response({"lid": lid,
                                  "pn": self.state.lids.get(lid)})

    async def lid_by_pn(self, request):
        session = self.path_session(request)
        await self.fake.wait_status(session, ("WORKING",))
        pn = request.match_info["pn"]
        if pn.endswith("@lid"):
            return json_response({"lid": pn, "pn": None})
        pn = chat_id(pn)
        lid = next((k for k, v in self.state.lids.items() if v == pn), None)
        return json_response({"lid": lid, "pn": pn})

    # -- groups -------------------------------------------------------------

    def group_of(self, request) -> tuple:
        session = self.path_session(request)
        gid = request.match_info["gid"]
        group = session.groups.get(gid)
        if group is None:
            raise not_found(f"Group '{gid}' not found")
        return session, group

    async def groups(self, request):
        session = self.path_session(request)
        await self.fake.wait_status(session, ("WORKING",))
        with_members = "participants" not in request.query.get("exclude", "")
        items = [group_info(g, with_members)
                 for g in session.groups.values()]
        offset = int(request.query.get("offset") or 0)
        limit = request.query.get("limit")
        items = items[offset:offset + int(limit)] if limit else items[offset:]
        shape = self.fake.config.groups_shape
        if shape == "engine":
            shape = "object" if self.fake.config.engine == "NOWEB" \
                else "array"
        if shape == "object":
            return json_response({g["id"]: g for g in items})
        return json_response(items)

    async def groups_count(self, request):
        session = self.path_session(request)
        await self.fake.wait_status(session, ("WORKING",))
        return json_response({"count": len(session.groups)})

    async def groups_refresh(self, request):
        session = self.path_session(request)
        await self.fake.wait_status(session, ("WORKING",))
        return created({"success": True})

    async def group(self, request):
        _, group = self.group_of(request)
        return json_response(group_info(group))

    async def participants(self, request):
        _, group = self.group_of(request)
        return json_response([dict(p) for p in group["participants"]])

    async def group_picture(self, request):
        _, group = self.group_of(request)
        return json_response({"url": self.fake.picture_url(
            self.state.contacts.get(group["id"]))})

    async def group_subject(self, request):
        session, group = self.group_of(request)
        body = await json_body(request)
        if not isinstance(body.get("subject"), str):
            raise validation("subject must be a string")
        group["subject"] = body["subject"]
        self.note(request, session, "subject", chat_id=group["id"],
                  body=body)
        await self.fake.emitter.emit(session, "group.v2.update", {
            "timestamp": int(time.time()),
            "group": {"id": group["id"], "subject": body["subject"]},
            "_data": {}}, {"wait": "none"})
        return json_response({})

    async def group_leave(self, request):
        session, group = self.group_of(request)
        del session.groups[group["id"]]
        self.note(request, session, "leave", chat_id=group["id"])
        await self.fake.emitter.emit(session, "group.v2.leave", {
            "timestamp": int(time.time()), "group": {"id": group["id"]},
            "_data": {}}, {"wait": "none"})
        return created({})


# ---------------------------------------------------------------------------
# Groups, inbound events and the sandbox's simulated people
# ---------------------------------------------------------------------------


def participant(fake: FakeWAHA, spec: dict) -> dict:
    """{id, pn, role} from {phone?, lid?, pn: bool, role, name?}."""
    phone = digits(spec.get("phone"))
    pn = f"{phone}@c.us" if phone else None
    role = spec.get("role", "participant")
    if role not in ("participant", "admin", "superadmin", "left"):
        raise ControlError(f"bad role {role!r}")
    if spec.get("lid"):
        lid = chat_id(str(spec["lid"]).split("@")[0] + "@lid")
        known = pn if spec.get("pn", True) else None
        fake.state.lids[lid] = known or fake.state.lids.get(lid)
        out = {"id": lid, "pn": known, "role": role}
    elif pn:
        out = {"id": pn, "pn": pn, "role": role}
    else:
        raise ControlError("a participant needs phone or lid")
    if spec.get("name"):
        fake.contact(out["id"]).push_name = spec["name"]
    return out


def make_group(fake: FakeWAHA, session: Session, spec: dict) -> dict:
    gid = spec.get("id") or f"1203630{secrets.randbelow(10 ** 11):011d}@g.us"
    members = [participant(fake, p) for p in spec.get("participants", [])]
    me = session.me()
    if me and not any(p["pn"] == me["id"] for p in members):
        members.append({"id": me["lid"], "pn": me["id"],
                        "role": spec.get("my_role", "participant")})
    group = {"id": gid, "subject": spec.get("subject", "Group"),
             "description": spec.get("description", ""),
             "invite": secrets.token_urlsafe(16), "participants": members}
    session.groups[gid] = group
    contact = fake.contact(gid)
    contact.name = group["subject"]
    fake.set_picture(contact, spec.get("picture", True))
    return group


async def inject(fake: FakeWAHA, session: Session, spec: dict,
                 options: dict) -> dict:
    """An inbound message: `message` and `message.any` (the overlap)."""
    payload = fake.payloads.message(session, spec)
    overlap = spec.get("overlap", "both")
    if overlap not in ("both", "message", "any"):
        raise ControlError(f"bad overlap {overlap!r}")
    events = ["message.any"] if payload["fromMe"] else \
        {"both": ["message", "message.any"], "message": ["message"],
         "any": ["message.any"]}[overlap]
    ids = []
    for event in events:
        ids += (await fake.emitter.emit(session, event, payload,
                                        options))["ids"]
    return {"id": payload["id"], "ids": ids, "payload": payload}


class Sandbox:
    """The echo contact and the "ferry sandbox" group's members."""

    def __init__(self, fake: FakeWAHA):
        self.fake = fake

    def join_group(self, session: Session) -> None:
        gid, subject = SANDBOX_GROUP
        if gid in session.groups:
            return
        members = [{"phone": phone, "lid": lid, "pn": known, "role": role,
                    "name": name}
                   for name, phone, lid, known, role in SANDBOX_MEMBERS]
        make_group(self.fake, session, {"id": gid, "subject": subject,
                                        "description": "Three simulated "
                                        "members who answer.",
                                        "participants": members})

    @staticmethod
    def member(name: str) -> dict:
        """The inbound spec fields of a sandbox member (a lid if it has)."""
        for member_name, phone, lid, _, _ in SANDBOX_MEMBERS:
            if member_name == name:
                return {"from": f"{lid}@lid" if lid else phone, "name": name}
        raise KeyError(name)

    async def say(self, session: Session, spec: dict) -> None:
        await inject(self.fake, session, spec, {"wait": "none"})

    async def answer(self, session: Session, chat: str, sent: dict,
                     kind: str) -> None:
        echo = self.fake.config.echo_contacts
        text = sent["body"] or f"your {MEDIA_SENDS.get(kind, 'message')}"
        if chat.split("@")[0] in echo:
            await asyncio.sleep(0.2)
            await self.react(session, chat, None, sent["id"], "👍")
            await self.fake.emitter.emit(session, "presence.update", {
                "id": chat, "presences": [{
                    "participant": chat, "lastKnownPresence": "typing",
                    "lastSeen": None}]}, {"wait": "none"})
            await asyncio.sleep(0.3)
            await inject(self.fake, session, {
                "from": chat, "name": echo[chat.split("@")[0]],
                "text": f"echo: {text}"}, {"wait": "none"})
        elif chat == SANDBOX_GROUP[0] and chat in session.groups:
            await self.group_answer(session, chat, sent, text)

    async def group_answer(self, session, chat, sent, text) -> None:
        me = session.me()
        ana = dict(self.member("Ana"), chat=chat,
                   text=f"Ana here: got \"{text}\"",
                   reply_to={"id": sent["id"], "participant": me["id"],
                             "body": sent["body"]})
        await asyncio.sleep(0.3)
        await self.say(session, ana)
        await asyncio.sleep(0.3)
        await self.react(session, self.member("Bruno")["from"], chat,
                         sent["id"], "❤️")
        await asyncio.sleep(0.3)
        await self.say(session, dict(self.member("Chiara"),
                                     chat=chat,
                                     text="Chiara here: hello from the "
                                     "sandbox group"))

    async def react(self, session, sender, group, message_id, text) -> None:
        spec = {"from": sender, "chat": group}
        payload = self.fake.payloads.action(session, spec)
        payload["reaction"] = {"text": text, "messageId": message_id}
        await self.fake.emitter.emit(session, "message.reaction", payload,
                                     {"wait": "none"})

    async def after_change(self, session, chat, mid, kind, body) -> None:
        echo = self.fake.config.echo_contacts
        if chat.split("@")[0] not in echo:
            return
        await asyncio.sleep(0.2)
        text = f"echo: you edited it to \"{body.get('text')}\"" \
            if kind == "edit" else "echo: you deleted a message"
        await inject(self.fake, session, {"from": chat, "text": text,
                                          "name": echo[chat.split("@")[0]]},
                     {"wait": "none"})


# ---------------------------------------------------------------------------
# Control API
# ---------------------------------------------------------------------------


class ControlAPI:
    """The /_control/ endpoints used by tests (see the module docstring)."""

    def __init__(self, fake: FakeWAHA):
        self.fake = fake

    def routes(self, app: web.Application) -> None:
        table = [
            ("GET", "state", self.get_state), ("POST", "config", self.config),
            ("POST", "reset", self.reset), ("POST", "fail", self.fail),
            ("POST", "down", self.down), ("GET", "requests", self.requests),
            ("GET", "sent", self.sent), ("GET", "reads", self.reads),
            ("GET", "deliveries", self.deliveries), ("POST", "idle", self.idle),
            ("POST", "scan", self.scan), ("POST", "passkey", self.passkey),
            ("POST", "rotate", self.rotate),
            ("POST", "fail_session", self.fail_session),
            ("POST", "logout", self.logout), ("POST", "status", self.status),
            ("POST", "silent", self.silent),
            ("POST", "inbound", self.inbound), ("POST", "ack", self.ack),
            ("POST", "reaction", self.reaction), ("POST", "edit", self.edit),
            ("POST", "revoke", self.revoke),
            ("POST", "presence", self.presence), ("POST", "call", self.call),
            ("POST", "event", self.event),
            ("POST", "webhook/raw", self.raw),
            ("POST", "contact", self.contact), ("POST", "lid", self.lid),
            ("POST", "group", self.group),
            ("POST", "group/participants", self.group_participants),
            ("POST", "group/update", self.group_update),
            ("POST", "group/leave", self.group_leave),
        ]
        for method, path, handler in table:
            app.router.add_route(method, "/_control/" + path, handler)

    @property
    def state(self) -> State:
        return self.fake.state

    body = staticmethod(fake_cloudapi.ControlAPI.body)

    async def session_body(self, request) -> tuple:
        body = await self.body(request)
        return self.state.session(body.get("session")), body

    @staticmethod
    def options(body: dict) -> dict:
        return {k: body[k] for k in ("signature", "duplicate", "retry",
                                     "wait", "url") if k in body}

    # -- state, config, faults, logs -----------------------------------------

    async def get_state(self, request):
        state = self.state
        return json_response({
            "config": dataclasses.asdict(self.fake.config),
            "base_url": self.fake.base_url,
            "sessions": [dict(self.fake.session_info(s), qr=s.qr,
                              silent=s.silent, groups=list(s.groups),
                              status_data=s.status_data,
                              subscribed=sorted(s.subscribed))
                         for s in state.sessions.values()],
            "lids": state.lids, "fail_rules": state.fail_rules,
            "down": self.fake.is_down(),
            "counts": {"requests": len(state.requests),
                       "sent": len(state.sent),
                       "deliveries": len(state.deliveries)}})

    async def config(self, request):
        self.fake.config.update(await self.body(request))
        return json_response(dataclasses.asdict(self.fake.config))

    async def reset(self, request):
        await self.fake.cancel_tasks()
        self.fake.reset_state()
        return json_response({"ok": True})

    async def fail(self, request):
        body = await self.body(request)
        rule = {"count": int(body.get("count", 1)),
                "error": normalise_fault(body.get("error", 500)),
                "path_contains": body.get("path_contains", ""),
                "method": body.get("method")}
        self.state.fail_rules.append(rule)
        return json_response(rule)

    async def down(self, request):
        body = await self.body(request)
        if "seconds" in body:
            self.state.down_until = time.monotonic() + float(body["seconds"])
        else:
            self.state.down_until = float("inf") if body.get("on", True) \
                else 0.0
        return json_response({"down": self.fake.is_down()})

    async def requests(self, request):
        return json_response(filtered(self.state.requests, request.query))

    async def sent(self, request):
        return json_response(filtered(self.state.sent, request.query))

    async def reads(self, request):
        return json_response(filtered(self.state.reads, request.query))

    async def deliveries(self, request):
        items = [d.as_dict() for d in self.state.deliveries]
        return json_response(filtered(items, request.query, "id"))

    async def idle(self, request):
        timeout = float((await self.body(request)).get("timeout", 5))
        deadline = time.monotonic() + timeout
        while self.busy() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return json_response({"idle": not self.busy()})

    def busy(self) -> bool:
        """Background work other than waiting sessions (QR rotation)."""
        waiting = {s.task for s in self.state.sessions.values()}
        return any(t not in waiting for t in self.fake.tasks)

    # -- sessions -----------------------------------------------------------

    async def scan(self, request):
        session, body = await self.session_body(request)
        await self.fake.lifecycle.scan(session, body)
        return json_response(self.fake.session_info(session))

    async def passkey(self, request):
        session, _ = await self.session_body(request)
        await self.fake.lifecycle.passkey(session)
        return json_response({"status": session.status,
                                  "data": session.status_data})

    async def rotate(self, request):
        session, _ = await self.session_body(request)
        await self.fake.lifecycle.rotate(session)
        return json_response({"status": session.status, "qr": session.qr})

    async def fail_session(self, request):
        session, _ = await self.session_body(request)
        await self.fake.lifecycle.fail(session)
        return json_response({"status": session.status})

    async def logout(self, request):
        session, body = await self.session_body(request)
        await self.fake.lifecycle.logout(session, body.get("then", "FAILED"))
        return json_response({"status": session.status})

    async def status(self, request):
        session, body = await self.session_body(request)
        if body.get("status") not in STATUSES:
            raise ControlError(f"bad status {body.get('status')!r}")
        if body["status"] == "WORKING":
            session.authenticated = True
            session.phone = session.phone or \
                f"1555010{next(self.state.phones):04d}"
            session.lid = session.lid or str(10 ** 14 + int(session.phone[-9:]))
        await self.fake.lifecycle.set_status(session, body["status"],
                                             body.get("data"))
        return json_response({"status": session.status})

    async def silent(self, request):
        session, body = await self.session_body(request)
        session.silent = bool(body.get("on", True))
        return json_response({"silent": session.silent,
                                  "missed": len(session.missed)})

    # -- events -------------------------------------------------------------

    async def inbound(self, request):
        session, body = await self.session_body(request)
        result = await inject(self.fake, session, body, self.options(body))
        payload = result["payload"]
        return json_response({"id": result["id"], "ids": result["ids"],
                                  "media_url": (payload.get("media") or {})
                                  .get("url"), "payload": payload})

    async def emit(self, session, event, payload, body) -> web.Response:
        result = await self.fake.emitter.emit(session, event, payload,
                                              self.options(body))
        return json_response(dict(result, payload=payload))

    async def ack(self, request):
        session, body = await self.session_body(request)
        mid = body["id"]
        ack = body.get("ack", "DEVICE")
        ack = ACKS[ack] if isinstance(ack, str) else int(ack)
        chat = mid.split("_")[1] if mid.count("_") >= 2 else body["chat"]
        participant = body.get("participant")
        event = "message.ack.group" if participant and body.get("group_event") \
            else "message.ack"
        payload = Payloads.ack(mid, chat, session.me(), ack, participant)
        return await self.emit(session, event, payload, body)

    async def reaction(self, request):
        session, body = await self.session_body(request)
        payload = self.fake.payloads.action(session, body)
        payload["reaction"] = {"text": body.get("text", "👍"),
                               "messageId": body["message_id"]}
        return await self.emit(session, "message.reaction", payload, body)

    async def edit(self, request):
        session, body = await self.session_body(request)
        payload = self.fake.payloads.action(session, body)
        payload.update({"timestamp": int(time.time()),
                        "body": body.get("text", ""), "hasMedia": False,
                        "media": None, "ack": 1, "ackName": "SERVER",
                        "editedMessageId": bare_id(body["message_id"])})
        return await self.emit(session, "message.edited", payload, body)

    async def revoke(self, request):
        session, body = await self.session_body(request)
        after = self.fake.payloads.action(session, body)
        payload = {"after": after, "before": None,
                   "revokedMessageId": bare_id(body["message_id"])}
        if body.get("by"):
            after["participant"] = chat_id(body["by"])
        return await self.emit(session, "message.revoked", payload, body)

    async def presence(self, request):
        session, body = await self.session_body(request)
        chat = chat_id(body.get("chat") or body["from"])
        who = chat_id(body.get("participant") or body.get("from") or chat)
        if self.fake.config.presence_needs_subscribe and \
                chat not in session.subscribed and \
                not chat.endswith("@g.us"):
            return json_response({"ids": [], "unsubscribed": True})
        payload = {"id": chat, "presences": [{
            "participant": who,
            "lastKnownPresence": body.get("presence", "online"),
            "lastSeen": body.get("last_seen")}]}
        return await self.emit(session, "presence.update", payload, body)

    async def call(self, request):
        session, body = await self.session_body(request)
        payload = {"id": secrets.token_hex(16).upper(),
                   "from": chat_id(body["from"]),
                   "timestamp": int(time.time()),
                   "isVideo": bool(body.get("video")),
                   "isGroup": bool(body.get("group")), "_data": {}}
        return await self.emit(session, "call.received", payload, body)

    async def event(self, request):
        session, body = await self.session_body(request)
        return await self.emit(session, body["event"], body.get("payload"),
                               body)

    async def raw(self, request):
        session, body = await self.session_body(request)
        if not isinstance(body.get("body"), str):
            raise ControlError("raw needs body (a string)")
        options = dict(self.options(body), raw=body["body"].encode())
        result = await self.fake.emitter.emit(
            session, body.get("event", "message"), None, options)
        return json_response(result)

    # -- directory ----------------------------------------------------------

    async def contact(self, request):
        body = await self.body(request)
        contact = self.fake.contact(chat_id(body.get("id")
                                            or body["phone"]))
        if "name" in body:
            contact.name = body["name"]
        if "push_name" in body:
            contact.push_name = body["push_name"]
        if "picture" in body:
            self.fake.set_picture(contact, bool(body["picture"]))
        return json_response(dict(dataclasses.asdict(contact),
                                      picture_url=self.fake.picture_url(
                                          contact)))

    async def lid(self, request):
        body = await self.body(request)
        lid = chat_id(str(body["lid"]).split("@")[0] + "@lid")
        pn = chat_id(body["pn"]) if body.get("pn") else None
        self.state.lids[lid] = pn
        return json_response({"lid": lid, "pn": pn})

    async def group(self, request):
        session, body = await self.session_body(request)
        group = make_group(self.fake, session, body)
        result = {"group": group_info(group)}
        if body.get("announce"):
            result.update(await self.fake.emitter.emit(
                session, "group.v2.join", {
                    "timestamp": int(time.time()), "group": group_info(group),
                    "_data": {}}, self.options(body)))
        return json_response(result)

    def session_group(self, session: Session, body: dict) -> dict:
        group = session.groups.get(body.get("group"))
        if group is None:
            raise ControlError(f"unknown group {body.get('group')!r}")
        return group

    async def group_participants(self, request):
        session, body = await self.session_body(request)
        group = self.session_group(session, body)
        kind = body.get("type")
        if kind not in ("join", "leave", "promote", "demote"):
            raise ControlError(f"bad type {kind!r}")
        changed = [self.apply(group, kind, participant(self.fake, p))
                   for p in body.get("participants", [])]
        payload = {"type": kind, "timestamp": int(time.time()),
                   "group": {"id": group["id"]}, "participants": changed,
                   "_data": {}}
        return await self.emit(session, "group.v2.participants", payload,
                               body)

    @staticmethod
    def apply(group: dict, kind: str, member: dict) -> dict:
        members = group["participants"]
        current = next((p for p in members if p["id"] == member["id"]), None)
        if kind == "join" and current is None:
            members.append(member)
        elif kind == "leave" and current is not None:
            members.remove(current)
            member = dict(member, role="left")
        elif kind in ("promote", "demote") and current is not None:
            current["role"] = "admin" if kind == "promote" else "participant"
            if member.get("pn") and not current.get("pn"):
                current["pn"] = member["pn"]  # a lid's number learnt
            member = dict(current)
        return member

    async def group_update(self, request):
        session, body = await self.session_body(request)
        group = self.session_group(session, body)
        changed = {"id": group["id"]}
        for key in ("subject", "description"):
            if key in body:
                group[key] = changed[key] = body[key]
        data = {}
        if "picture" in body:
            self.fake.set_picture(self.fake.contact(group["id"]),
                                  bool(body["picture"]))
            data = {"type": "picture", "picture": bool(body["picture"])}
        payload = {"timestamp": int(time.time()), "group": changed,
                   "_data": data}
        return await self.emit(session, "group.v2.update", payload, body)

    async def group_leave(self, request):
        session, body = await self.session_body(request)
        group = self.session_group(session, body)
        del session.groups[group["id"]]
        payload = {"timestamp": int(time.time()), "group": {"id": group["id"]},
                   "_data": {}}
        return await self.emit(session, "group.v2.leave", payload, body)


# ---------------------------------------------------------------------------
# Synchronous helper for tests
# ---------------------------------------------------------------------------


class WahaThread(fake_cloudapi.FakeThread):
    """A FakeWAHA on its own loop thread: start() returns the port."""

    @staticmethod
    async def _make(kwargs) -> FakeWAHA:
        return FakeWAHA(**kwargs)   # created on the loop it runs on


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Fake WAHA")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--api-key")
    parser.add_argument("--webhook-url", default="")
    parser.add_argument("--hmac-key", default="")
    parser.add_argument("--engine", choices=ENGINES, default="GOWS")
    parser.add_argument("--only-default", action="store_true")
    parser.add_argument("--config", type=json.loads, default={},
                        help="initial config as a JSON object")
    parser.add_argument("--sandbox", action="store_true")
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)
    if args.api_key is None:
        if not args.sandbox:
            parser.error("--api-key is required")
        args.api_key = "sandbox-waha-key"
    return args


def sandbox_banner(fake: FakeWAHA) -> str:
    return "\n".join([
        "ferry sandbox network (fake WAHA, personal accounts)",
        f"  [waha] url     = {fake.base_url}",
        f"  [waha] api_key = {fake.config.api_key}",
        "  [waha] webhook_hmac_key = any; ferry sets it per session",
        "  register with network waha; the QR is \"scanned\" "
        f"{fake.config.auto_scan_seconds:g} s after it is first shown",
        f"  (at once: curl -s {fake.base_url}/_control/scan -d '{{}}')",
        f"  echo contact: +{SANDBOX_ECHO[0]} ({SANDBOX_ECHO[1]}) reads, "
        "reacts and answers \"echo: <text>\"",
        f"  group \"{SANDBOX_GROUP[1]}\" ({SANDBOX_GROUP[0]}): Ana, Bruno "
        "and Chiara answer",
        f"  control API: {fake.base_url}/_control/state", ""])


async def serve(args: argparse.Namespace) -> None:
    fake = FakeWAHA(args.host, args.port, api_key=args.api_key,
                    webhook_url=args.webhook_url, hmac_key=args.hmac_key,
                    engine=args.engine, only_default=args.only_default,
                    sandbox=args.sandbox, config=args.config)
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
                        format="fake_waha: %(message)s")
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
