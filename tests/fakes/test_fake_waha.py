# SPDX-License-Identifier: MIT
"""Self-tests of the fake WAHA server, without ferry.

Run with: /usr/bin/python3 -m pytest -q tests/fakes
The fake and a small webhook receiver (which checks every X-Webhook-Hmac with
its own HMAC-SHA512) run on one private event loop; the tests talk to them
over HTTP on 127.0.0.1 with urllib.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Optional

import pytest
from aiohttp import web

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_waha as fw  # noqa: E402
from test_fake_cloudapi import Resp, idle, wait_for  # noqa: E402

KEY = "test-api-key"
HMAC_KEY = "test-hmac-key"
ME = "4915112345678"
USER = "16505551234"
EVENTS = ["session.status", "message", "message.any", "message.ack",
          "message.reaction", "message.revoked", "message.edited",
          "presence.update", "group.v2.join", "group.v2.leave",
          "group.v2.update", "group.v2.participants", "call.received"]
TEST_CONFIG = {"starting_seconds": 0.01, "ack_delay_ms": 1,
               "not_working_wait": 0.2, "retry_delay_scale": 0.01,
               "qr_rotate_seconds": 0, "webhook_timeout": 3}

# ---------------------------------------------------------------------------
# The webhook receiver (stands in for ferry's /webhook/waha)
# ---------------------------------------------------------------------------


@dataclass
class Post:
    raw: bytes
    headers: dict
    valid: bool
    body: Optional[dict]


class Receiver:
    """Records webhook POSTs, verifying them; answers queued statuses."""

    def __init__(self):
        self.posts: list = []
        self.replies: list = []
        self.runner = None
        self.port = 0

    async def start(self) -> int:
        app = web.Application()
        app.router.add_post("/webhook/waha", self.on_post)
        app.router.add_get("/media/{name}", self.on_media)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = self.runner.addresses[0][1]
        return self.port

    async def stop(self) -> None:
        await self.runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook/waha"

    async def on_post(self, request):
        raw = await request.read()
        header = request.headers.get("X-Webhook-Hmac")
        expected = hmac.new(HMAC_KEY.encode(), raw,
                            hashlib.sha512).hexdigest()
        valid = header is not None and hmac.compare_digest(header, expected)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.posts.append(Post(raw, dict(request.headers), valid, body))
        return web.Response(status=self.replies.pop(0) if self.replies
                            else 200)

    async def on_media(self, request):
        if request.match_info["name"] == "missing.jpg":
            return web.Response(status=404)
        return web.Response(body=b"\xff\xd8\xff picture",
                            content_type="image/jpeg")

    def events(self, event=None) -> list:
        return [p.body for p in self.posts if p.valid and (
            event is None or p.body["event"] == event)]

    def payloads(self, event) -> list:
        return [e["payload"] for e in self.events(event)]

    def statuses(self) -> list:
        return [p["status"] for p in self.payloads("session.status")]


# ---------------------------------------------------------------------------
# Fixtures and HTTP helpers
# ---------------------------------------------------------------------------


@dataclass
class Env:
    loop: fw.LoopThread
    fake: fw.FakeWAHA
    receiver: Receiver
    ctl: fw.ControlClient

    @property
    def base(self) -> str:
        return self.fake.base_url


@pytest.fixture(scope="module")
def env():
    loop = fw.LoopThread()
    receiver = Receiver()
    loop.run(receiver.start())
    fake = loop.run(make_fake())
    loop.run(fake.start())
    yield Env(loop, fake, receiver, fw.ControlClient(fake.base_url))
    loop.run(fake.stop())
    loop.run(receiver.stop())
    loop.close()


async def make_fake() -> fw.FakeWAHA:
    return fw.FakeWAHA(api_key=KEY, config=TEST_CONFIG)


@pytest.fixture(autouse=True)
def clean(env):
    env.ctl.post("reset")
    env.receiver.posts.clear()
    env.receiver.replies.clear()
    yield


def http(method, url, body=None, key=KEY, headers=None) -> Resp:
    headers = dict(headers or {})
    if key is not None:
        headers["X-Api-Key"] = key
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method,
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return Resp(resp.status, dict(resp.headers), resp.read())
    except urllib.error.HTTPError as err:
        return Resp(err.code, dict(err.headers), err.read())


def api(env, method, path, body=None, **kw) -> Resp:
    return http(method, env.base + path, body, **kw)


def hook(env, events=None, **extra) -> dict:
    return dict({"url": env.receiver.url, "events": events or EVENTS,
                 "hmac": {"key": HMAC_KEY},
                 "retries": {"policy": "constant", "delaySeconds": 1,
                             "attempts": 4}}, **extra)


def create(env, name="default", webhook=None, **body) -> Resp:
    config = {"webhooks": [webhook or hook(env)],
              "metadata": {"user.id": "alice@localhost"}}
    return api(env, "POST", "/api/sessions",
               dict({"name": name, "config": config}, **body))


def working(env, name="default", **scan) -> dict:
    """A session created, shown its QR, scanned: WORKING."""
    assert create(env, name).status == 201
    wait_for(lambda: session_status(env, name) == "SCAN_QR_CODE")
    info = env.ctl.post("scan", dict({"session": name, "phone": ME,
                                      "push_name": "Alice"}, **scan))
    assert info["status"] == "WORKING"
    idle(env)
    return info


def session_status(env, name="default") -> str:
    return api(env, "GET", f"/api/sessions/{name}").json["status"]


def send_text(env, text="hello", chat=f"{USER}@c.us", session="default",
              **extra) -> Resp:
    return api(env, "POST", "/api/sendText",
               dict({"session": session, "chatId": chat, "text": text},
                    **extra))


# ---------------------------------------------------------------------------
# Auth, errors, signatures
# ---------------------------------------------------------------------------


def test_signature_known_vector():
    body = b'{"event":"message","session":"default","engine":"WEBJS"}'
    assert fw.sign(body, "my-secret-key") == (
        "208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8"
        "097c462b2b17a6ce93b6b47a136cf2e78a33a63f6752c2c1631777076153fa89")


@pytest.mark.parametrize("key", [None, "wrong"])
def test_missing_or_wrong_key_is_401(env, key):
    resp = api(env, "GET", "/api/sessions", key=key)
    assert resp.status == 401
    assert resp.json == {"message": "Unauthorized", "statusCode": 401}


def test_key_in_query_and_ping_without_key(env):
    resp = api(env, "GET", "/api/sessions?x-api-key=" + KEY, key=None)
    assert resp.status == 200 and resp.json == []
    assert api(env, "GET", "/ping", key=None).json == {"message": "pong"}


def test_error_shapes(env):
    assert create(env).status == 201
    dup = create(env)
    assert dup.status == 422
    assert dup.json == {"statusCode": 422, "error": "Unprocessable Entity",
                        "message": "Session 'default' already exists. Use "
                        "PUT to update it."}
    missing = api(env, "GET", "/api/sessions/nobody")
    assert missing.status == 404 and missing.json == {
        "statusCode": 404, "message": "Session not found",
        "error": "Not Found"}
    post = api(env, "POST", "/api/reaction", {})
    assert post.status == 404 and post.json["message"] == \
        "Cannot POST /api/reaction"
    bad = api(env, "POST", "/api/sendText", {"session": "default"})
    assert bad.status == 400 and bad.json["error"] == "Bad Request"
    assert isinstance(bad.json["message"], list)


def test_only_default_session_option(env):
    env.ctl.post("config", {"only_default": True})
    resp = create(env, "alice")
    assert resp.status == 422
    assert "only 'default' session" in resp.json["message"]
    assert create(env, "default").status == 201


def test_session_not_working_is_422_after_the_wait(env):
    create(env)
    wait_for(lambda: session_status(env) == "SCAN_QR_CODE")
    started = time.monotonic()
    resp = send_text(env)
    assert time.monotonic() - started >= 0.2
    assert resp.status == 422
    assert resp.json == {"error": fw.NOT_WORKING, "session": "default",
                         "status": "SCAN_QR_CODE", "expected": ["WORKING"]}


# ---------------------------------------------------------------------------
# Sessions and pairing
# ---------------------------------------------------------------------------


def test_qr_rotates_twice_then_working(env):
    resp = create(env, "alice")
    assert resp.status == 201 and resp.json["status"] == "STARTING"
    wait_for(lambda: session_status(env, "alice") == "SCAN_QR_CODE")
    qrs = [api(env, "GET", "/api/alice/auth/qr?format=raw").json["value"]]
    for _ in range(2):
        env.ctl.post("rotate", {"session": "alice"})
        qrs.append(api(env, "GET", "/api/alice/auth/qr?format=raw")
                   .json["value"])
    assert len(set(qrs)) == 3
    env.ctl.post("scan", {"session": "alice", "phone": "+" + ME,
                          "push_name": "Alice"})
    wait_for(lambda: env.receiver.statuses()[-1:] == ["WORKING"])
    assert env.receiver.statuses() == ["STARTING", "SCAN_QR_CODE",
                                       "SCAN_QR_CODE", "SCAN_QR_CODE",
                                       "WORKING"]
    last = env.receiver.events("session.status")[-1]
    assert last["me"]["id"] == f"{ME}@c.us" and last["session"] == "alice"
    assert last["metadata"] == {"user.id": "alice@localhost"}
    assert re.fullmatch(r"evt_[0-9a-z]{26}", last["id"])
    assert last["environment"]["version"] == fw.VERSION
    assert len(last["payload"]["statuses"]) == 3
    me = api(env, "GET", "/api/sessions/alice/me").json
    assert me["pushName"] == "Alice" and me["lid"].endswith("@lid")


def test_qr_formats_and_422_outside_scan(env):
    create(env)
    wait_for(lambda: session_status(env) == "SCAN_QR_CODE")
    image = api(env, "GET", "/api/default/auth/qr")
    assert image.headers["Content-Type"] == "image/png"
    assert image.raw.startswith(b"\x89PNG")
    as_json = api(env, "GET", "/api/default/auth/qr",
                  headers={"Accept": "application/json"}).json
    assert as_json["mimetype"] == "image/png"
    assert base64.b64decode(as_json["data"]) == image.raw
    env.ctl.post("scan", {})
    late = api(env, "GET", "/api/default/auth/qr")
    assert late.status == 422 and late.json["expected"] == ["SCAN_QR_CODE"]


def test_qr_rotates_by_itself_and_fails_after_max(env):
    env.ctl.post("config", {"qr_rotate_seconds": 0.05,
                            "qr_max_rotations": 2})
    create(env)
    wait_for(lambda: "FAILED" in env.receiver.statuses())
    assert env.receiver.statuses() == ["STARTING", "SCAN_QR_CODE",
                                       "SCAN_QR_CODE", "SCAN_QR_CODE",
                                       "FAILED"]


def test_pairing_code_then_scanned_as_that_phone(env):
    create(env)
    wait_for(lambda: session_status(env) == "SCAN_QR_CODE")
    resp = api(env, "POST", "/api/default/auth/request-code",
               {"phoneNumber": "+49 151 1234 5678"})
    assert resp.status == 201
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", resp.json["code"])
    info = env.ctl.post("scan", {})
    assert info["me"]["id"] == f"{ME}@c.us"


def test_gows_passkey_steps(env):
    env.ctl.post("config", {"passkey": True})
    create(env)
    wait_for(lambda: session_status(env) == "SCAN_QR_CODE")
    env.ctl.post("scan", {"phone": ME})
    assert session_status(env) == "PASSKEY_REQUIRED"
    step = env.ctl.post("passkey", {})
    assert step["status"] == "PASSKEY_CONFIRMATION_REQUIRED"
    assert re.fullmatch(r"\d{6}", step["data"]["code"])
    assert env.ctl.post("passkey", {})["status"] == "WORKING"
    wait_for(lambda: env.receiver.statuses()[-1:] == ["WORKING"])
    payloads = env.receiver.payloads("session.status")
    assert payloads[-2]["data"]["code"] == step["data"]["code"]
    assert payloads[-3]["data"]["rpId"] == "web.whatsapp.com"


def test_stop_start_restart_logout_delete(env):
    working(env)
    assert api(env, "POST", "/api/sessions/default/stop").json["status"] \
        == "STOPPED"
    assert api(env, "GET", "/api/sessions").json == []
    assert len(api(env, "GET", "/api/sessions?all=true").json) == 1
    api(env, "POST", "/api/sessions/default/start")
    wait_for(lambda: session_status(env) == "WORKING")
    api(env, "POST", "/api/sessions/default/logout")
    wait_for(lambda: session_status(env) == "SCAN_QR_CODE")
    assert api(env, "GET", "/api/sessions/default/me").json is None
    assert api(env, "DELETE", "/api/sessions/default").status == 200
    assert api(env, "DELETE", "/api/sessions/default").status == 200
    assert api(env, "GET", "/api/sessions/default").status == 404


def test_failed_and_logged_out_from_the_phone(env):
    working(env)
    env.ctl.post("fail_session", {})
    assert send_text(env).status == 422
    api(env, "POST", "/api/sessions/default/restart")
    wait_for(lambda: session_status(env) == "WORKING")
    env.ctl.post("logout", {"then": "FAILED"})
    api(env, "POST", "/api/sessions/default/restart")
    wait_for(lambda: session_status(env) == "SCAN_QR_CODE")


def test_put_replaces_config_and_restarts(env):
    working(env)
    resp = api(env, "PUT", "/api/sessions/default",
               {"config": {"webhooks": [hook(env, ["message"])]}})
    assert resp.status == 200
    wait_for(lambda: session_status(env) == "WORKING")
    env.receiver.posts.clear()
    env.ctl.post("inbound", {"from": USER, "text": "hi"})
    idle(env)
    assert [e["event"] for e in env.receiver.events()] == ["message"]


# ---------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------


def test_send_noweb_flavor_message_any_and_acks(env):
    working(env)
    env.receiver.posts.clear()
    resp = send_text(env, "hi there")
    assert resp.status == 201
    key = resp.json["key"]
    assert key["remoteJid"] == f"{USER}@s.whatsapp.net" and key["fromMe"]
    assert resp.json["status"] == "PENDING"
    mid = f"true_{USER}@c.us_{key['id']}"
    idle(env)
    any_ = env.receiver.payloads("message.any")
    assert any_[0]["id"] == mid and any_[0]["source"] == "api"
    acks = env.receiver.payloads("message.ack")
    assert [(a["ack"], a["ackName"]) for a in acks] == [
        (1, "SERVER"), (2, "DEVICE"), (3, "READ")]
    sent = env.ctl.get("sent")
    assert sent[0]["id"] == mid and sent[0]["body"]["text"] == "hi there"


def test_send_webjs_flavor_and_pregenerated_id(env):
    env.ctl.post("config", {"engine": "WEBJS"})
    working(env)
    resp = send_text(env, id="3EB0AAAABBBBCCCCDDDD11")
    serial = f"true_{USER}@c.us_3EB0AAAABBBBCCCCDDDD11"
    assert resp.json["id"]["_serialized"] == serial
    assert resp.json["_data"]["id"]["_serialized"] == serial


def test_send_empty_201(env):
    env.ctl.post("config", {"send_flavor": "empty"})
    working(env)
    resp = send_text(env)
    assert resp.status == 201 and resp.raw == b""
    idle(env)
    assert env.receiver.payloads("message.any")[0]["id"] == \
        env.ctl.get("sent")[0]["id"]


@pytest.mark.parametrize("profile,acks", [
    ("out_of_order", [1, 3, 2]), ("duplicates", [1, 2, 2, 3, 3]),
    ("none", [])])
def test_ack_profiles(env, profile, acks):
    env.ctl.post("config", {"number_acks": {USER: profile}})
    working(env)
    env.receiver.posts.clear()
    send_text(env)
    idle(env)
    assert [a["ack"] for a in env.receiver.payloads("message.ack")] == acks


def test_ack_by_hand_and_early_events(env):
    env.ctl.post("config", {"early_events": True, "ack_profile": "server"})
    working(env)
    env.receiver.posts.clear()
    resp = send_text(env)
    assert len(env.receiver.payloads("message.ack")) == 1
    mid = f"true_{USER}@c.us_{resp.json['key']['id']}"
    env.ctl.post("ack", {"id": mid, "ack": "PLAYED"})
    assert env.receiver.payloads("message.ack")[-1]["ackName"] == "PLAYED"


def test_media_send_by_url_and_data(env):
    working(env)
    url = f"http://127.0.0.1:{env.receiver.port}/media/a.jpg"
    resp = api(env, "POST", "/api/sendImage", {
        "session": "default", "chatId": f"{USER}@c.us", "caption": "c",
        "file": {"mimetype": "image/jpeg", "url": url}})
    assert resp.status == 201
    assert resp.json["message"]["imageMessage"]["caption"] == "c"
    sent = env.ctl.get("sent")[0]["body"]["file"]
    assert sent["_sha256"] == hashlib.sha256(b"\xff\xd8\xff picture") \
        .hexdigest()
    voice = api(env, "POST", "/api/sendVoice", {
        "session": "default", "chatId": f"{USER}@c.us", "convert": True,
        "file": {"mimetype": "audio/ogg; codecs=opus",
                 "data": base64.b64encode(b"OggS").decode()}})
    assert voice.status == 201
    broken = api(env, "POST", "/api/sendFile", {
        "session": "default", "chatId": f"{USER}@c.us",
        "file": {"mimetype": "image/jpeg", "url": url[:-5] + "missing.jpg"}})
    assert broken.status == 500
    assert broken.json["exception"]["name"] == "Error"


def test_reaction_edit_revoke_seen_read_typing_presence(env):
    working(env)
    env.ctl.post("inbound", {"from": USER, "text": "one"})
    mid = send_text(env).json["key"]["id"]
    full = f"true_{USER}@c.us_{mid}"
    chat = urllib.parse.quote(f"{USER}@c.us")
    assert api(env, "PUT", "/api/reaction", {
        "session": "default", "messageId": full, "reaction": "👍"}).status \
        == 200
    bare = api(env, "PUT", "/api/reaction", {
        "session": "default", "messageId": mid, "reaction": "👍"})
    assert bare.status == 500
    assert api(env, "PUT", f"/api/default/chats/{chat}/messages/{full}",
               {"text": "fixed"}).status == 200
    assert api(env, "DELETE",
               f"/api/default/chats/{chat}/messages/{full}").status == 200
    types = [s["type"] for s in env.ctl.get("sent")]
    assert types == ["sendText", "reaction", "edit", "revoke"]
    assert api(env, "POST", "/api/sendSeen", {
        "session": "default", "chatId": f"{USER}@c.us",
        "messageIds": [full]}).status == 201
    read = api(env, "POST", f"/api/default/chats/{chat}/messages/read")
    assert read.status == 201 and len(read.json["ids"]) == 1
    assert api(env, "POST", f"/api/default/chats/{chat}/messages/read") \
        .json == {"ids": []}
    assert api(env, "POST", "/api/startTyping", {
        "session": "default", "chatId": f"{USER}@c.us"}).status == 201
    assert api(env, "POST", "/api/default/presence", {
        "chatId": f"{USER}@c.us", "presence": "paused"}).status == 201
    assert api(env, "POST", "/api/default/presence", {
        "presence": "sleeping"}).status == 400
    kinds = [r["type"] for r in env.ctl.get("reads")]
    assert kinds == ["seen", "read", "read", "typing", "presence"]


# ---------------------------------------------------------------------------
# Webhooks: overlap, duplicates, signatures, retries, outage
# ---------------------------------------------------------------------------


def test_inbound_is_message_and_message_any_with_one_payload_id(env):
    working(env)
    env.receiver.posts.clear()
    result = env.ctl.post("inbound", {"from": "+" + USER, "name": "Bob",
                                      "text": "hi"})
    idle(env)
    events = env.receiver.events()
    assert [e["event"] for e in events] == ["message", "message.any"]
    assert {e["payload"]["id"] for e in events} == {result["id"]}
    assert events[0]["id"] != events[1]["id"]
    payload = events[0]["payload"]
    assert payload["from"] == f"{USER}@c.us" and payload["to"] == \
        f"{ME}@c.us"
    assert payload["id"].startswith(f"false_{USER}@c.us_")
    assert isinstance(payload["timestamp"], int)
    headers = env.receiver.posts[0].headers
    assert headers["User-Agent"] == f"WAHA/{fw.VERSION}"
    assert headers["X-Webhook-Hmac-Algorithm"] == "sha512"
    assert "X-Webhook-Request-Id" in headers
    assert "X-Webhook-Timestamp" in headers


def test_duplicate_posts_are_identical(env):
    working(env)
    env.receiver.posts.clear()
    env.ctl.post("inbound", {"from": USER, "text": "x", "overlap": "message",
                             "duplicate": 2})
    idle(env)
    raws = {p.raw for p in env.receiver.posts}
    assert len(env.receiver.posts) == 3 and len(raws) == 1


def test_only_subscribed_events_and_phone_sent_messages(env):
    assert create(env, webhook=hook(env, ["message"])).status == 201
    wait_for(lambda: session_status(env) == "SCAN_QR_CODE")
    env.ctl.post("scan", {"phone": ME})
    env.ctl.post("inbound", {"from": USER, "text": "in"})
    env.ctl.post("inbound", {"from": USER, "text": "out", "from_me": True})
    idle(env)
    events = env.receiver.events()
    assert [(e["event"], e["payload"]["body"]) for e in events] == [
        ("message", "in")]
    env.ctl.post("config", {"webhook_url": env.receiver.url,
                            "webhook_hmac_key": HMAC_KEY,
                            "webhook_events": ["message.any"]})
    result = env.ctl.post("inbound", {"from": USER, "text": "out2",
                                      "from_me": True})
    assert result["payload"]["source"] == "app"
    assert result["payload"]["fromMe"] and result["payload"]["to"] == \
        f"{USER}@c.us"
    idle(env)
    assert env.receiver.events()[-1]["event"] == "message.any"


@pytest.mark.parametrize("mode", ["bad", "none", "tamper", "upper"])
def test_broken_signatures(env, mode):
    working(env)
    env.receiver.posts.clear()
    env.ctl.post("inbound", {"from": USER, "text": "x", "overlap": "message",
                             "signature": mode})
    idle(env)
    post = env.receiver.posts[0]
    assert not post.valid
    assert ("X-Webhook-Hmac" in post.headers) == (mode != "none")


def test_retries_with_identical_bytes_until_2xx(env):
    working(env)
    env.receiver.posts.clear()
    env.receiver.replies[:] = [500, 503]
    result = env.ctl.post("inbound", {"from": USER, "text": "x",
                                      "overlap": "message", "wait": "final"})
    assert len(env.receiver.posts) == 3
    assert len({p.raw for p in env.receiver.posts}) == 1
    delivery = env.ctl.get("deliveries", payload_id=result["id"])[0]
    assert [a["status"] for a in delivery["attempts"]] == [500, 503, 200]
    assert delivery["ok"]


def test_retries_are_capped_by_attempts(env):
    working(env)
    env.receiver.posts.clear()
    env.receiver.replies[:] = [500] * 10
    env.ctl.post("inbound", {"from": USER, "text": "x", "overlap": "message",
                             "wait": "final"})
    assert len(env.receiver.posts) == 4


def test_raw_body_is_signed_as_given(env):
    working(env)
    env.receiver.posts.clear()
    env.ctl.post("webhook/raw", {"body": '{"event":"message","x":"é"}'})
    idle(env)
    post = env.receiver.posts[0]
    assert post.raw == '{"event":"message","x":"é"}'.encode()
    assert post.valid


def test_down_drops_requests_and_holds_webhooks(env):
    working(env)
    env.receiver.posts.clear()
    env.ctl.post("down", {"on": True})
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        api(env, "GET", "/api/sessions")
    env.ctl.post("inbound", {"from": USER, "text": "later", "wait": "none"})
    time.sleep(0.2)
    assert env.receiver.posts == []
    env.ctl.post("down", {"on": False})
    idle(env)
    assert len(env.receiver.events("message")) == 1
    assert api(env, "GET", "/api/sessions").status == 200


def test_silent_session_replays_on_restart(env):
    working(env)
    env.receiver.posts.clear()
    env.ctl.post("silent", {"on": True})
    env.ctl.post("inbound", {"from": USER, "text": "lost?"})
    idle(env)
    assert env.receiver.events("message") == []
    assert session_status(env) == "WORKING"
    api(env, "POST", "/api/sessions/default/restart")
    wait_for(lambda: env.receiver.events("message"))
    assert env.receiver.payloads("message")[0]["body"] == "lost?"


def check_html(resp):
    assert resp.status == 502 and b"502 Bad Gateway" in resp.raw


def check_crash(resp):
    assert resp.status == 500 and resp.json["exception"]["message"]


def check_truncated(resp):
    with pytest.raises(ValueError):
        json.loads(resp.raw)


@pytest.mark.parametrize("fault,check", [
    ("html502", check_html), (500, check_crash),
    ("truncated", check_truncated)])
def test_faults(env, fault, check):
    working(env)
    env.ctl.post("fail", {"error": fault, "path_contains": "sendText"})
    check(send_text(env))
    assert send_text(env).status == 201


def test_fault_after_handling_keeps_the_send(env):
    working(env)
    env.ctl.post("fail", {"error": {"status": 500, "after": True}})
    assert send_text(env, "kept").status == 500
    assert env.ctl.get("sent")[0]["body"]["text"] == "kept"
    record = env.ctl.get("requests", path_contains="sendText")[0]
    assert record["handled_status"] == 201


def test_transient_and_drop(env):
    working(env)
    env.ctl.post("config", {"transient": 503})
    assert send_text(env).status == 503
    env.ctl.post("config", {"transient": None})
    env.ctl.post("fail", {"error": "drop"})
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        send_text(env)


# ---------------------------------------------------------------------------
# Inbound variants, lids, media, contacts
# ---------------------------------------------------------------------------


def test_lid_sender_without_pn_then_mapping_appears(env):
    working(env)
    result = env.ctl.post("inbound", {"from": USER, "lid": True, "pn": False,
                                      "text": "who am I"})
    lid = result["payload"]["from"]
    assert lid.endswith("@lid")
    enc = urllib.parse.quote(lid)
    assert api(env, "GET", f"/api/default/lids/{enc}").json == {
        "lid": lid, "pn": None}
    assert api(env, "GET", f"/api/default/lids/pn/{USER}%40c.us").json == {
        "lid": None, "pn": f"{USER}@c.us"}
    env.ctl.post("lid", {"lid": lid, "pn": USER})
    assert api(env, "GET", f"/api/default/lids/{lid.split('@')[0]}") \
        .json["pn"] == f"{USER}@c.us"
    assert api(env, "GET", f"/api/default/lids/pn/{USER}").json["lid"] == lid
    assert api(env, "GET", "/api/default/lids/123@c.us").status == 422
    assert {"lid": lid, "pn": f"{USER}@c.us"} in \
        api(env, "GET", "/api/default/lids").json
    assert api(env, "GET", "/api/default/lids/count").json["count"] >= 2


def test_lid_sender_with_pn(env):
    working(env)
    result = env.ctl.post("inbound", {"from": USER, "lid": True,
                                      "text": "known"})
    lid = result["payload"]["from"]
    assert api(env, "GET", f"/api/default/lids/{lid}").json["pn"] == \
        f"{USER}@c.us"


def test_media_file_answers_late_when_told(env):
    working(env)
    media = env.ctl.post("inbound", {"from": USER, "type": "image",
                                     "data": "late"})["payload"]["media"]
    env.ctl.post("config", {"file_delay_ms": 700})
    t = time.monotonic()
    got = http("GET", media["url"])
    assert got.status == 200 and got.raw == b"late"
    assert time.monotonic() - t >= 0.7


def test_media_url_needs_the_key(env):
    working(env)
    result = env.ctl.post("inbound", {"from": USER, "type": "voice",
                                      "data": "OggS voice"})
    media = result["payload"]["media"]
    assert media["mimetype"] == "audio/ogg; codecs=opus"
    assert result["payload"]["hasMedia"]
    assert http("GET", media["url"], key=None).status == 401
    got = http("GET", media["url"])
    assert got.status == 200 and got.raw == b"OggS voice"
    assert http("GET", media["url"] + "?x-api-key=" + KEY,
                key=None).status == 200
    none = env.ctl.post("inbound", {"from": USER, "type": "image",
                                    "media": "null"})["payload"]
    assert none["hasMedia"] and none["media"] is None
    err = env.ctl.post("inbound", {"from": USER, "type": "image",
                                   "media": "error"})["payload"]
    assert err["media"]["error"] is not None


@pytest.mark.parametrize("form", ["full", "bare", "absent"])
def test_reply_forms(env, form):
    working(env)
    target = f"true_{USER}@c.us_AAAABBBBCCCC"
    payload = env.ctl.post("inbound", {
        "from": USER, "text": "re", "reply_form": form,
        "reply_to": {"id": target, "participant": f"{ME}@c.us",
                     "body": "orig"}})["payload"]
    expected = {"full": target, "bare": "AAAABBBBCCCC", "absent": None}
    assert payload["replyTo"].get("id") == expected[form]
    assert payload["replyTo"]["body"] == "orig"


def test_location_vcard_poll_view_once(env):
    working(env)
    loc = env.ctl.post("inbound", {"from": USER, "type": "location",
                                   "latitude": 1.5})["payload"]
    assert loc["location"]["latitude"] == "1.5"
    raw = loc["_data"]["message"]["locationMessage"]     # GOWS, as Baileys
    assert raw["degreesLatitude"] == 1.5 and raw["degreesLongitude"] == 13.405
    only = env.ctl.post("inbound", {"from": USER, "type": "location",
                                    "location_form": "data",
                                    "name_of_place": "HQ"})["payload"]
    assert only["location"] is None
    assert only["_data"]["message"]["locationMessage"]["name"] == "HQ"
    env.ctl.post("config", {"engine": "WEBJS"})
    web = env.ctl.post("inbound", {"from": USER, "type": "location",
                                   "location_form": "data"})["payload"]
    assert web["location"] is None and web["_data"]["type"] == "location"
    assert (web["_data"]["lat"], web["_data"]["lng"]) == (52.52, 13.405)
    card = env.ctl.post("inbound", {"from": USER, "type": "vcard"})["payload"]
    assert card["vCards"][0].startswith("BEGIN:VCARD")
    poll = env.ctl.post("inbound", {"from": USER, "type": "poll"})["payload"]
    assert "pollCreationMessage" in poll["_data"]


def test_reaction_edit_revoke_presence_call_events(env):
    working(env)
    env.receiver.posts.clear()
    target = f"true_{USER}@c.us_AAAA"
    env.ctl.post("reaction", {"from": USER, "message_id": target,
                              "text": ""})
    env.ctl.post("edit", {"from": USER, "message_id": f"false_{USER}@c.us_B",
                          "text": "new"})
    env.ctl.post("revoke", {"from": USER,
                            "message_id": f"false_{USER}@c.us_C"})
    skipped = env.ctl.post("presence", {"from": USER, "presence": "typing"})
    assert skipped["unsubscribed"]
    chat = urllib.parse.quote(f"{USER}@c.us")
    api(env, "POST", f"/api/default/presence/{chat}/subscribe")
    env.ctl.post("presence", {"from": USER, "presence": "typing"})
    env.ctl.post("call", {"from": USER, "video": True})
    idle(env)
    reaction = env.receiver.payloads("message.reaction")[0]
    assert reaction["reaction"] == {"text": "", "messageId": target}
    edited = env.receiver.payloads("message.edited")[0]
    assert edited["editedMessageId"] == "B" and edited["body"] == "new"
    assert edited["id"] != f"false_{USER}@c.us_B"
    revoked = env.receiver.payloads("message.revoked")[0]
    assert revoked["revokedMessageId"] == "C" and revoked["before"] is None
    presence = env.receiver.payloads("presence.update")
    assert len(presence) == 1
    assert presence[0]["presences"][0]["lastKnownPresence"] == "typing"
    call = env.receiver.payloads("call.received")[0]
    assert call["isVideo"] and call["from"] == f"{USER}@c.us"


def test_contacts_and_profile_pictures(env):
    working(env)
    env.ctl.post("contact", {"phone": USER, "name": "Bob", "picture": True})
    pic = api(env, "GET", f"/api/contacts/profile-picture?contactId={USER}"
              "&session=default").json["profilePictureURL"]
    assert http("GET", pic, key=None).raw.startswith(b"\x89PNG")
    env.ctl.post("contact", {"phone": USER, "picture": True})
    again = api(env, "GET", f"/api/contacts/profile-picture?contactId={USER}"
                "&session=default").json["profilePictureURL"]
    assert again != pic
    env.ctl.post("contact", {"phone": USER, "picture": False})
    assert api(env, "GET", f"/api/contacts/profile-picture?contactId={USER}"
               "&session=default").json == {"profilePictureURL": None}
    contact = api(env, "GET", f"/api/contacts?contactId={USER}@c.us"
                  "&session=default").json
    assert contact["name"] == "Bob" and contact["number"] == USER
    assert api(env, "GET", "/api/contacts/check-exists?phone=%2B1555"
               "&session=default").json == {"numberExists": True,
                                            "chatId": "1555@c.us"}


# ---------------------------------------------------------------------------
# Groups
# ---------------------------------------------------------------------------


MEMBERS = [{"phone": "15550000001", "lid": "301", "pn": True,
            "role": "superadmin", "name": "Ana"},
           {"phone": "15550000002", "lid": "302", "pn": False,
            "role": "admin", "name": "Bruno"},
           {"phone": "15550000003", "role": "participant"}]


def make_group(env) -> dict:
    return env.ctl.post("group", {"id": "120363000000000009@g.us",
                                  "subject": "Team", "participants": MEMBERS,
                                  "announce": True})["group"]


def test_groups_listing_and_participants(env):
    working(env)
    group = make_group(env)
    idle(env)
    join = env.receiver.payloads("group.v2.join")[0]
    assert join["group"]["subject"] == "Team"
    listed = api(env, "GET", "/api/default/groups").json
    assert [g["id"] for g in listed] == [group["id"]]
    parts = api(env, "GET", "/api/default/groups/120363000000000009%40g.us"
                "/participants/v2").json
    assert parts[0] == {"id": "301@lid", "pn": "15550000001@c.us",
                        "role": "superadmin"}
    assert parts[1] == {"id": "302@lid", "pn": None, "role": "admin"}
    assert parts[2]["id"] == "15550000003@c.us"
    assert parts[3]["id"].endswith("@lid")
    assert parts[3]["pn"] == f"{ME}@c.us" and parts[3]["role"] == \
        "participant"
    slim = api(env, "GET", "/api/default/groups?exclude=participants").json
    assert "participants" not in slim[0]
    assert api(env, "GET", "/api/default/groups/count").json == {"count": 1}
    env.ctl.post("config", {"engine": "NOWEB"})
    assert group["id"] in api(env, "GET", "/api/default/groups").json
    picture = api(env, "GET", "/api/default/groups/120363000000000009@g.us"
                  "/picture").json["url"]
    assert http("GET", picture, key=None).status == 200


def test_group_message_from_a_lid_participant(env):
    working(env)
    group = make_group(env)
    payload = env.ctl.post("inbound", {"chat": group["id"],
                                       "from": "302@lid", "name": "Bruno",
                                       "text": "hi all"})["payload"]
    assert payload["from"] == group["id"]
    assert payload["participant"] == "302@lid"
    assert payload["id"].startswith(f"false_{group['id']}_")
    assert payload["id"].endswith("_302@lid")
    mention = env.ctl.post("inbound", {"chat": group["id"], "from": "301@lid",
                                       "text": f"hi @{ME}",
                                       "mentions": [ME]})["payload"]
    info = mention["_data"]["message"]["extendedTextMessage"]["contextInfo"]
    assert info["mentionedJid"] == [f"{ME}@s.whatsapp.net"]
    bare = env.ctl.post("inbound", {"chat": group["id"], "from": "301@lid",
                                    "text": "x", "no_participant": True})
    assert bare["payload"]["participant"] is None


def test_group_participant_events_and_updates(env):
    working(env)
    group = make_group(env)
    env.receiver.posts.clear()
    env.ctl.post("group/participants", {"group": group["id"], "type": "join",
                                        "participants": [{"lid": "304",
                                                          "pn": False}]})
    env.ctl.post("group/participants", {"group": group["id"],
                                        "type": "promote",
                                        "participants": [{"lid": "304",
                                                          "pn": False}]})
    env.ctl.post("group/participants", {"group": group["id"],
                                        "type": "leave",
                                        "participants": [{"phone":
                                                          "15550000003"}]})
    env.ctl.post("group/update", {"group": group["id"], "subject": "Team 2",
                                  "picture": True})
    idle(env)
    events = env.receiver.payloads("group.v2.participants")
    assert [(e["type"], e["participants"][0]["role"]) for e in events] == [
        ("join", "participant"), ("promote", "admin"), ("leave", "left")]
    assert events[0]["participants"][0] == {"id": "304@lid", "pn": None,
                                            "role": "participant"}
    update = env.receiver.payloads("group.v2.update")[0]
    assert update["group"] == {"id": group["id"], "subject": "Team 2"}
    info = api(env, "GET", f"/api/default/groups/{group['id']}").json
    assert info["subject"] == "Team 2"
    assert {p["id"] for p in info["participants"]} >= {"304@lid"}
    assert "15550000003@c.us" not in {p["id"] for p in info["participants"]}
    env.ctl.post("group/leave", {"group": group["id"]})
    idle(env)
    assert env.receiver.payloads("group.v2.leave")[0]["group"]["id"] == \
        group["id"]
    assert api(env, "GET", f"/api/default/groups/{group['id']}").status == \
        404


def test_promote_with_pn_gives_a_lid_its_number(env):
    working(env)
    group = make_group(env)
    env.receiver.posts.clear()
    env.ctl.post("group/participants", {"group": group["id"],
                                        "type": "promote",
                                        "participants": [{"lid": "302",
                                                          "phone":
                                                          "15550000002",
                                                          "pn": True}]})
    idle(env)
    event = env.receiver.payloads("group.v2.participants")[0]
    assert event["participants"][0] == {"id": "302@lid",
                                        "pn": "15550000002@c.us",
                                        "role": "admin"}
    parts = api(env, "GET", f"/api/default/groups/{group['id']}"
                "/participants/v2").json
    assert {"id": "302@lid", "pn": "15550000002@c.us",
            "role": "admin"} in parts


def test_send_to_group_and_set_subject(env):
    working(env)
    group = make_group(env)
    resp = send_text(env, "to all", chat=group["id"])
    assert resp.json["key"]["remoteJid"] == group["id"]
    assert api(env, "PUT", f"/api/default/groups/{group['id']}/subject",
               {"subject": "New"}).status == 200
    idle(env)
    assert env.receiver.payloads("group.v2.update")[-1]["group"][
        "subject"] == "New"


def test_group_send_mentions_recorded_and_api_source(env):
    working(env)
    group = make_group(env)
    bad = send_text(env, "@ana", chat=group["id"], mentions=["ana"])
    assert bad.status == 400
    resp = send_text(env, "hi @15550003331", chat=group["id"],
                     mentions=["15550003331@c.us"])
    assert resp.status == 201
    sent = env.ctl.get("sent")[-1]
    assert sent["mentions"] == ["15550003331@c.us"]
    assert send_text(env, "none").status == 201
    assert env.ctl.get("sent")[-1]["mentions"] == []
    idle(env)
    echo = env.receiver.payloads("message.any")[-2]
    assert echo["source"] == "api" and echo["id"] == sent["id"]
    # an engine that reports API sends as the phone's: source app, and in
    # a group an id that names the user too
    env.ctl.post("config", {"api_source": "app"})
    env.receiver.posts.clear()
    resp = send_text(env, "again", chat=group["id"])
    idle(env)
    echo = env.receiver.payloads("message.any")[-1]
    me = api(env, "GET", "/api/sessions/default").json["me"]["id"]
    key = resp.json["key"]["id"]
    assert echo["source"] == "app"
    assert echo["id"] == f"true_{group['id']}_{key}_{me}"


# ---------------------------------------------------------------------------
# Command line and sandbox
# ---------------------------------------------------------------------------


def start_cli(*args) -> tuple:
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "fake_waha.py")
    proc = subprocess.Popen([sys.executable, script, "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline()
    match = re.fullmatch(r"READY (\d+)\n", line)
    if not match:
        proc.kill()
        raise AssertionError(f"no READY line: {line!r} "
                             f"{proc.stderr.read()}")
    return proc, int(match.group(1))


def test_sandbox_scans_echoes_and_the_group_answers(env):
    proc, port = start_cli("--sandbox", "--config",
                           json.dumps({"auto_scan_seconds": 0.1,
                                       "starting_seconds": 0.01,
                                       "ack_delay_ms": 1}))
    base = f"http://127.0.0.1:{port}"
    key = "sandbox-waha-key"
    try:
        resp = http("POST", base + "/api/sessions", {
            "name": "alice", "config": {"webhooks": [hook(env)]}}, key=key)
        assert resp.status == 201
        wait_for(lambda: "SCAN_QR_CODE" in env.receiver.statuses())
        assert http("GET", base + "/api/alice/auth/qr", key=key).status == 200
        wait_for(lambda: "WORKING" in env.receiver.statuses())
        sent = http("POST", base + "/api/sendText", {
            "session": "alice", "chatId": "15550002222@c.us",
            "text": "hi"}, key=key).json
        mid = f"true_15550002222@c.us_{sent['key']['id']}"
        echo = wait_for(lambda: [p for p in env.receiver.payloads("message")
                                 if p["body"] == "echo: hi"])
        assert echo[0]["from"] == "15550002222@c.us"
        reaction = env.receiver.payloads("message.reaction")[0]
        assert reaction["reaction"]["messageId"] == mid
        assert 3 in [a["ack"] for a in env.receiver.payloads("message.ack")]
        groups = http("GET", base + "/api/alice/groups", key=key).json
        assert [g["subject"] for g in groups] == ["ferry sandbox"]
        gid = groups[0]["id"]
        http("POST", base + "/api/sendText", {
            "session": "alice", "chatId": gid, "text": "hello group"},
            key=key)
        answers = wait_for(lambda: [
            p for p in env.receiver.payloads("message") if p["from"] == gid
            and p["participant"] and "Chiara" in p["body"]])
        senders = {p["participant"] for p in env.receiver.payloads("message")
                   if p["from"] == gid}
        assert len(senders) == 2 and answers
        ana = [p for p in env.receiver.payloads("message")
               if "Ana" in p["body"]][0]
        assert ana["replyTo"]["body"] == "hello group"
        assert any(r["from"] == gid for r in
                   env.receiver.payloads("message.reaction"))
    finally:
        proc.terminate()
        proc.wait(5)
    assert "sandbox-waha-key" in proc.stderr.read()


def test_cli_requires_api_key():
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "fake_waha.py")
    done = subprocess.run([sys.executable, script, "--port", "0"],
                          capture_output=True, text=True, timeout=10)
    assert done.returncode == 2 and "--api-key" in done.stderr


def test_waha_thread_helper(env):
    fake = fw.WahaThread(api_key=KEY, webhook_url=env.receiver.url,
                         hmac_key=HMAC_KEY, config=TEST_CONFIG)
    fake.start()
    try:
        ctl = fw.ControlClient(fake.base_url)
        http("POST", fake.base_url + "/api/sessions", {"name": "default"})
        wait_for(lambda: ctl.get("state")["sessions"][0]["status"]
                 == "SCAN_QR_CODE")
        ctl.post("scan", {})
        ctl.post("inbound", {"from": USER, "text": "via global hook"})
        assert env.receiver.payloads("message")[0]["body"] == \
            "via global hook"
    finally:
        fake.stop()
