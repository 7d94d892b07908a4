# SPDX-License-Identifier: MIT
"""Self-tests of the fake Cloud API server, without ferry.

Run with: /usr/bin/python3 -m pytest -q tests/fakes
The fake and a small webhook receiver (which checks every signature with its
own HMAC code) run on one private event loop; the tests talk to them over
HTTP on 127.0.0.1 with urllib.
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
import urllib.request
from dataclasses import dataclass
from typing import Optional

import pytest
from aiohttp import web

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_cloudapi as fc  # noqa: E402

SECRET = "test_app_secret"
VERIFY = "test-verify-token"
PNID_A, TOKEN_A, DISPLAY_A = "106540352242922", "token-a", "15550783881"
PNID_B, TOKEN_B, DISPLAY_B = "106540352242933", "token-b", "4930901820"
USER, USER2 = "16505551234", "16505559876"
VER = "v21.0"
TEST_CONFIG = {"status_delay_ms": 5, "webhook_backoff": 0.05,
               "webhook_max_attempts": 4, "webhook_timeout": 3}
WAMID_RE = re.compile(r"^wamid\.[A-Za-z0-9+/]+=*$")

# ---------------------------------------------------------------------------
# The webhook receiver (stands in for ferry's /webhook/cloudapi)
# ---------------------------------------------------------------------------


@dataclass
class Post:
    raw: bytes
    signature: Optional[str]
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
        app.router.add_post("/webhook/cloudapi", self.on_post)
        app.router.add_get("/webhook/cloudapi", self.on_get)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = self.runner.addresses[0][1]
        return self.port

    async def stop(self) -> None:
        await self.runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook/cloudapi"

    async def on_post(self, request):
        raw = await request.read()
        header = request.headers.get("X-Hub-Signature-256")
        expected = "sha256=" + hmac.new(SECRET.encode(), raw,
                                        hashlib.sha256).hexdigest()
        valid = header is not None and hmac.compare_digest(header, expected)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.posts.append(Post(raw, header, valid, body))
        return web.Response(status=self.replies.pop(0) if self.replies
                            else 200)

    async def on_get(self, request):
        query = request.query
        if query.get("hub.verify_token") != VERIFY or \
                "hub.challenge" not in query:
            return web.Response(status=403, text="forbidden")
        return web.Response(text=query["hub.challenge"])

    def values(self) -> list:
        """Every change value of every valid POST, in arrival order."""
        return [change["value"] for post in self.posts if post.valid
                for entry in post.body["entry"]
                for change in entry["changes"]]

    def statuses(self, wamid: str) -> list:
        return [s for v in self.values() for s in v.get("statuses", [])
                if s["id"] == wamid]

    def status_names(self, wamid: str) -> list:
        return [s["status"] for s in self.statuses(wamid)]

    def messages(self) -> list:
        return [m for v in self.values() for m in v.get("messages", [])]


# ---------------------------------------------------------------------------
# Fixtures and HTTP helpers
# ---------------------------------------------------------------------------


@dataclass
class Env:
    loop: fc.LoopThread
    fake: fc.FakeCloudAPI
    receiver: Receiver
    ctl: fc.ControlClient

    @property
    def base(self) -> str:
        return self.fake.base_url


@pytest.fixture(scope="module")
def env():
    loop = fc.LoopThread()
    receiver = Receiver()
    loop.run(receiver.start())
    fake = fc.FakeCloudAPI(
        app_secret=SECRET, webhook_url=receiver.url, verify_token=VERIFY,
        config=TEST_CONFIG, accounts=[
            {"pnid": PNID_A, "token": TOKEN_A,
             "display_phone_number": DISPLAY_A, "verified_name": "Shop A"},
            {"pnid": PNID_B, "token": TOKEN_B,
             "display_phone_number": DISPLAY_B}])
    loop.run(fake.start())
    yield Env(loop, fake, receiver, fc.ControlClient(fake.base_url))
    loop.run(fake.stop())
    loop.run(receiver.stop())
    loop.close()


@pytest.fixture(autouse=True)
def clean(env):
    env.ctl.post("reset")
    env.receiver.posts.clear()
    env.receiver.replies.clear()
    yield


@dataclass
class Resp:
    status: int
    headers: dict
    raw: bytes

    @property
    def json(self):
        return json.loads(self.raw)

    @property
    def error(self) -> dict:
        return self.json["error"]


def http(method, url, body=None, token=TOKEN_A, headers=None) -> Resp:
    headers = dict(headers or {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=body, method=method,
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return Resp(resp.status, dict(resp.headers), resp.read())
    except urllib.error.HTTPError as err:
        return Resp(err.code, dict(err.headers), err.read())


def graph(env, method, path, body=None, token=TOKEN_A, **kw) -> Resp:
    return http(method, f"{env.base}/{VER}/{path}", body, token, **kw)


def text_body(to=f"+{USER}", text="hello", **extra) -> dict:
    return dict({"messaging_product": "whatsapp", "recipient_type":
                 "individual", "to": to, "type": "text",
                 "text": {"body": text}}, **extra)


def send(env, body=None, pnid=PNID_A, token=TOKEN_A) -> Resp:
    return graph(env, "POST", f"{pnid}/messages", body or text_body(), token)


def inbound(env, **spec) -> dict:
    spec.setdefault("pnid", PNID_A)
    spec.setdefault("from", USER)
    spec.setdefault("name", "Sheena Nelson")
    return env.ctl.post("inbound", spec)


def idle(env) -> None:
    assert env.ctl.post("idle", {"timeout": 5})["idle"]


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def configure(env, **config) -> None:
    env.ctl.post("config", config)


# ---------------------------------------------------------------------------
# Account info and auth
# ---------------------------------------------------------------------------


def test_account_info(env):
    resp = graph(env, "GET", PNID_A)
    assert resp.status == 200
    assert resp.json == {"verified_name": "Shop A",
                         "display_phone_number": DISPLAY_A, "id": PNID_A,
                         "quality_rating": "GREEN",
                         "throughput": {"level": "STANDARD"}}
    fields = graph(env, "GET", f"{PNID_A}?fields=throughput").json
    assert fields == {"throughput": {"level": "STANDARD"}, "id": PNID_A}


def test_unknown_pnid_is_code_100_subcode_33(env):
    resp = graph(env, "GET", "999999999999999")
    assert resp.status == 400
    assert resp.error["code"] == 100 and resp.error["error_subcode"] == 33
    assert "999999999999999" in resp.error["message"]
    other = graph(env, "GET", PNID_B, token=TOKEN_A)
    assert other.status == 400 and other.error["code"] == 100


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_bad_or_missing_token_is_401_190(env, token):
    for resp in (graph(env, "GET", PNID_A, token=token),
                 send(env, token=token)):
        assert resp.status == 401
        assert resp.error["code"] == 190
        assert resp.error["type"] == "OAuthException"
        assert "error_subcode" not in resp.error


def test_expired_token_is_401_190_463(env):
    configure(env, expired_token=True)
    resp = send(env)
    assert resp.status == 401
    assert (resp.error["code"], resp.error["error_subcode"]) == (190, 463)
    env.ctl.post("accounts", {"pnid": PNID_B, "token": TOKEN_B,
                              "display_phone_number": DISPLAY_B,
                              "expired": True})
    configure(env, expired_token=False)
    assert graph(env, "GET", PNID_A).status == 200
    assert graph(env, "GET", PNID_B, token=TOKEN_B).error[
        "error_subcode"] == 463


def test_unknown_path_and_missing_version(env):
    assert graph(env, "GET", f"{PNID_A}/nothing").error["code"] == 2500
    resp = http("POST", f"{env.base}/{PNID_A}/messages", text_body())
    assert resp.status == 400 and resp.error["code"] == 2500


# ---------------------------------------------------------------------------
# Sends: shape and validation
# ---------------------------------------------------------------------------


def test_send_success_shape(env):
    inbound(env)
    wamids = set()
    for _ in range(10):
        resp = send(env, text_body(to="+1 (650) 555-1234"))
        assert resp.status == 200
        body = resp.json
        assert set(body) == {"messaging_product", "contacts", "messages"}
        assert body["messaging_product"] == "whatsapp"
        assert body["contacts"] == [{"input": "+1 (650) 555-1234",
                                     "wa_id": USER}]
        assert len(body["messages"]) == 1
        assert set(body["messages"][0]) == {"id"}
        assert WAMID_RE.match(body["messages"][0]["id"])
        wamids.add(body["messages"][0]["id"])
    assert len(wamids) == 10
    sent = env.ctl.get("sent", pnid=PNID_A)
    assert [s["wamid"] for s in sent if s["wamid"] in wamids] and \
        {s["wamid"] for s in sent} == wamids
    assert all(s["to"] == "+1 (650) 555-1234" and s["type"] == "text"
               and s["payload"] == {"body": "hello"} for s in sent)


def test_to_without_plus_gets_business_country_code(env):
    env.ctl.post("window", {"wa_id": "14915112345678"})
    resp = send(env, text_body(to="4915112345678"))
    assert resp.json["contacts"] == [{"input": "4915112345678",
                                      "wa_id": "14915112345678"}]


def test_input_differs_from_wa_id_when_rewritten(env):
    configure(env, wa_id_rewrites={"5511987654321": "551187654321"},
              window_enforce=False)
    resp = send(env, text_body(to="+55 11 98765-4321"))
    assert resp.json["contacts"] == [{"input": "+55 11 98765-4321",
                                      "wa_id": "551187654321"}]


def image(**obj) -> dict:
    return {"messaging_product": "whatsapp", "to": f"+{USER}",
            "type": "image", "image": obj}


VALIDATION_CASES = [
    ("no messaging_product", {k: v for k, v in text_body().items()
                              if k != "messaging_product"}, 100, 400),
    ("bad messaging_product", text_body(messaging_product="sms"), 100, 400),
    ("no to", {k: v for k, v in text_body().items() if k != "to"}, 100, 400),
    ("garbage to", text_body(to="call me"), 100, 400),
    ("bad type", dict(text_body(), type="hologram"), 100, 400),
    ("no text object", dict(text_body(), text=None), 100, 400),
    ("text too long", text_body(text="x" * 4097), 100, 400),
    ("media id and link", image(id="1", link="https://x/y.png"), 100, 400),
    ("media neither", image(caption="c"), 100, 400),
    ("caption too long", image(id="1", caption="c" * 1025), 100, 400),
    ("reaction without emoji",
     {"messaging_product": "whatsapp", "to": f"+{USER}", "type": "reaction",
      "reaction": {"message_id": "wamid.x"}}, 100, 400),
    ("to is the business", text_body(to=f"+{DISPLAY_A}"), 131021, 400),
    ("not json", b"{not json", 100, 400),
]


@pytest.mark.parametrize("name,body,code,status", VALIDATION_CASES,
                         ids=[c[0] for c in VALIDATION_CASES])
def test_send_validation(env, name, body, code, status):
    env.ctl.post("window", {"wa_id": USER})
    resp = send(env, body)
    assert resp.status == status
    assert resp.error["code"] == code
    assert resp.error["message"].startswith(f"(#{code})")
    assert env.ctl.get("sent") == []


def test_text_of_exactly_4096_characters_is_accepted(env):
    inbound(env)
    resp = send(env, text_body(text="\u00e9" * 4096))
    assert resp.status == 200


def test_unknown_template_is_132001_404_and_templates_skip_window(env):
    configure(env, templates=["hello_world"])
    tpl = {"messaging_product": "whatsapp", "to": f"+{USER}",
           "type": "template", "template": {"name": "nope",
                                            "language": {"code": "en_US"}}}
    resp = send(env, tpl)
    assert (resp.status, resp.error["code"]) == (404, 132001)
    tpl["template"]["name"] = "hello_world"
    wamid = send(env, tpl).json["messages"][0]["id"]
    idle(env)
    assert env.receiver.status_names(wamid) == ["sent", "delivered", "read"]


def test_mark_read_and_typing_indicator(env):
    wamid = inbound(env)["wamids"][0]
    read = {"messaging_product": "whatsapp", "status": "read",
            "message_id": wamid}
    assert send(env, read).json == {"success": True}
    typing = dict(read, typing_indicator={"type": "text"})
    assert send(env, typing).json == {"success": True}
    bad = send(env, dict(read, typing_indicator={"type": "audio"}))
    assert bad.status == 400 and bad.error["code"] == 100
    reads = env.ctl.get("reads", pnid=PNID_A)
    assert [(r["message_id"], r["typing"], r["known"]) for r in reads] == \
        [(wamid, False, True), (wamid, True, True)]
    assert env.ctl.get("sent") == []


# ---------------------------------------------------------------------------
# Automatic statuses
# ---------------------------------------------------------------------------


def test_default_statuses_are_sent_delivered_read(env):
    inbound(env)
    wamid = send(env).json["messages"][0]["id"]
    idle(env)
    statuses = env.receiver.statuses(wamid)
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert all(s["recipient_id"] == USER for s in statuses)
    assert all(isinstance(s["timestamp"], str) for s in statuses)
    assert statuses[0]["pricing"]["billable"] is True
    assert all(p.valid for p in env.receiver.posts)


@pytest.mark.parametrize("profile,expected", [
    ("none", []), ("sent", ["sent"]), ("delivered", ["sent", "delivered"]),
    ("read_before_delivered", ["sent", "read", "delivered"]),
    ("skip_delivered", ["sent", "read"]), (["read", "sent"], ["read", "sent"]),
])
def test_status_profiles_per_number(env, profile, expected):
    configure(env, number_statuses={USER: profile})
    env.ctl.post("window", {"wa_id": USER})
    env.ctl.post("window", {"wa_id": USER2})
    wamid = send(env).json["messages"][0]["id"]
    other = send(env, text_body(to=f"+{USER2}")).json["messages"][0]["id"]
    idle(env)
    assert env.receiver.status_names(wamid) == expected
    assert env.receiver.status_names(other) == ["sent", "delivered", "read"]


def test_early_statuses_arrive_before_the_send_response(env):
    configure(env, early_statuses=[USER], status_delay_ms=300)
    env.ctl.post("window", {"wa_id": USER})
    wamid = send(env).json["messages"][0]["id"]
    assert env.receiver.status_names(wamid) == ["sent", "delivered", "read"]


def test_biz_opaque_callback_data_is_echoed(env):
    inbound(env)
    wamid = send(env, text_body(biz_opaque_callback_data="row-42")).json[
        "messages"][0]["id"]
    idle(env)
    assert {s["biz_opaque_callback_data"]
            for s in env.receiver.statuses(wamid)} == {"row-42"}


def test_reaction_gets_only_a_sent_status(env):
    target = inbound(env)["wamids"][0]
    body = {"messaging_product": "whatsapp", "to": f"+{USER}",
            "type": "reaction",
            "reaction": {"message_id": target, "emoji": "\U0001F600"}}
    wamid = send(env, body).json["messages"][0]["id"]
    body["reaction"]["message_id"] = "wamid.unknown"
    bad = send(env, body).json["messages"][0]["id"]
    idle(env)
    assert env.receiver.status_names(wamid) == ["sent"]
    assert env.receiver.status_names(bad) == ["failed"]
    assert env.receiver.statuses(bad)[0]["errors"][0]["code"] == 131009


def test_status_by_hand_with_error(env):
    result = env.ctl.post("status", {"pnid": PNID_A, "wamid": "wamid.abc",
                                     "status": "failed", "error": 131049,
                                     "recipient_id": USER})
    assert result["delivery"]["status"] == 200
    status = env.receiver.statuses("wamid.abc")[0]
    assert status["status"] == "failed"
    assert status["errors"][0]["code"] == 131049
    assert status["errors"][0]["href"].endswith("error-codes")


# ---------------------------------------------------------------------------
# Rate limits and faults
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("http_status,retry_after", [(400, None), (429, 7)])
def test_throughput_limit_130429(env, http_status, retry_after):
    configure(env, mps=1, rate_limit_status=http_status,
              rate_limit_retry_after=retry_after)
    env.ctl.post("window", {"wa_id": USER})
    assert send(env).status == 200
    resp = send(env)
    assert resp.status == http_status
    assert resp.error["code"] == 130429
    assert resp.error["error_data"]["details"] == \
        "Cloud API message throughput has been reached."
    assert resp.headers.get("Retry-After") == (
        str(retry_after) if retry_after else None)


def test_pair_limit_131056_hits_one_recipient_only(env):
    configure(env, pair_burst=2, pair_interval=60)
    for wa_id in (USER, USER2):
        env.ctl.post("window", {"wa_id": wa_id})
    assert [send(env).status for _ in range(2)] == [200, 200]
    resp = send(env)
    assert (resp.status, resp.error["code"]) == (400, 131056)
    assert send(env, text_body(to=f"+{USER2}")).status == 200


def test_maintenance_131057(env):
    configure(env, maintenance=True)
    resp = send(env)
    assert (resp.status, resp.error["code"]) == (500, 131057)
    configure(env, maintenance=False)
    env.ctl.post("window", {"wa_id": USER})
    assert send(env).status == 200


def check_json_error(code, status):
    def check(resp):
        assert resp.status == status and resp.error["code"] == code
    return check


def check_html(resp):
    assert resp.status == 502
    assert resp.headers["Content-Type"].startswith("text/html")
    assert b"502 Bad Gateway" in resp.raw


def check_empty(resp):
    assert resp.status == 500 and resp.raw == b""


def check_truncated(resp):
    assert resp.status == 500 and resp.raw.startswith(b'{"error":')
    with pytest.raises(ValueError):
        json.loads(resp.raw)


@pytest.mark.parametrize("fault,check", [
    (131000, check_json_error(131000, 500)), (2, check_json_error(2, 503)),
    ("html502", check_html), ("empty", check_empty),
    ("truncated", check_truncated)])
def test_transient_faults(env, fault, check):
    configure(env, transient=fault)
    check(send(env))
    check(graph(env, "GET", PNID_A))
    configure(env, transient=None)
    assert graph(env, "GET", PNID_A).status == 200


def test_dropped_connection(env):
    env.ctl.post("fail", {"error": "drop"})
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        send(env)
    assert graph(env, "GET", PNID_A).status == 200


def test_fault_after_handling_keeps_the_send(env):
    """An "after" fault: the send is accepted (recorded, statuses follow),
    and only its answer is lost."""
    env.ctl.post("window", {"wa_id": USER})
    env.ctl.post("fail", {"path_contains": "/messages",
                          "error": {"kind": "html502", "after": True}})
    check_html(send(env))
    env.ctl.post("fail", {"path_contains": "/messages",
                          "error": {"kind": "garbled200", "after": True}})
    resp = send(env)
    assert resp.status == 200
    with pytest.raises(ValueError):
        json.loads(resp.raw)
    sent = env.ctl.get("sent")
    assert len(sent) == 2 and all(s["outcome"] == "accepted" for s in sent)
    reqs = env.ctl.get("requests", path_contains="/messages")
    assert [(r["status"], r["handled_status"]) for r in reqs] == \
        [(502, 200), (200, 200)]
    wait_for(lambda: env.receiver.status_names(sent[0]["wamid"]))


def test_fault_before_handling_loses_the_send(env):
    env.ctl.post("window", {"wa_id": USER})
    env.ctl.post("fail", {"path_contains": "/messages", "error": "garbled200"})
    assert send(env).status == 200
    assert env.ctl.get("sent") == []


def test_hang_fault_answers_late(env):
    env.ctl.post("window", {"wa_id": USER})
    env.ctl.post("fail", {"path_contains": "/messages",
                          "error": {"kind": "hang", "seconds": 0.4,
                                    "after": True}})
    start = time.monotonic()
    assert send(env).status == 504
    assert time.monotonic() - start >= 0.4
    assert len(env.ctl.get("sent")) == 1


def test_media_url_in_webhook(env):
    """media_url puts any URL in the webhook's media object."""
    inbound(env, type="image", media_url="http://127.0.0.1:9/x.jpg")
    wait_for(lambda: env.receiver.messages())
    image = env.receiver.messages()[0]["image"]
    assert image["url"] == "http://127.0.0.1:9/x.jpg"


def test_fail_next_n_requests(env):
    env.ctl.post("window", {"wa_id": USER})
    env.ctl.post("fail", {"count": 2, "path_contains": "/messages",
                          "error": {"code": 130429, "http": 429,
                                    "retry_after": 3}})
    assert graph(env, "GET", PNID_A).status == 200
    first, second, third = send(env), send(env), send(env)
    assert (first.status, first.error["code"]) == (429, 130429)
    assert first.headers["Retry-After"] == "3"
    assert second.status == 429 and third.status == 200


def test_slow_toggle_delays_but_keeps_side_effects(env):
    configure(env, slow_ms=300)
    env.ctl.post("window", {"wa_id": USER})
    start = time.monotonic()
    assert send(env).status == 200
    assert time.monotonic() - start >= 0.3
    assert len(env.ctl.get("sent")) == 1


# ---------------------------------------------------------------------------
# 24-hour window and undeliverable numbers
# ---------------------------------------------------------------------------


def test_outside_window_is_accepted_then_fails_131047(env):
    resp = send(env)
    assert resp.status == 200
    wamid = resp.json["messages"][0]["id"]
    idle(env)
    statuses = env.receiver.statuses(wamid)
    assert [s["status"] for s in statuses] == ["failed"]
    assert statuses[0]["errors"][0]["code"] == 131047


def test_outside_window_synchronous_131047(env):
    configure(env, window_sync=True)
    resp = send(env)
    assert (resp.status, resp.error["code"]) == (400, 131047)
    assert env.ctl.get("sent") == []


def test_inbound_opens_window_and_window_expires(env):
    configure(env, window_seconds=0.8)
    inbound(env)
    ok = send(env).json["messages"][0]["id"]
    time.sleep(0.9)
    late = send(env).json["messages"][0]["id"]
    idle(env)
    assert env.receiver.status_names(ok) == ["sent", "delivered", "read"]
    assert env.receiver.status_names(late) == ["failed"]


def test_window_control_closes_window(env):
    inbound(env)
    env.ctl.post("window", {"wa_id": USER, "open": False})
    wamid = send(env).json["messages"][0]["id"]
    idle(env)
    assert env.receiver.statuses(wamid)[0]["errors"][0]["code"] == 131047


def test_undeliverable_number_fails_131026(env):
    configure(env, undeliverable=[f"+{USER2}"])
    resp = send(env, text_body(to=f"+{USER2}"))
    assert resp.status == 200
    wamid = resp.json["messages"][0]["id"]
    idle(env)
    statuses = env.receiver.statuses(wamid)
    assert [s["status"] for s in statuses] == ["failed"]
    assert statuses[0]["errors"][0]["code"] == 131026


# ---------------------------------------------------------------------------
# Media
# ---------------------------------------------------------------------------


def multipart(fields: dict, data: bytes, ctype: str, filename="a.jpg"):
    boundary = "ferryboundary7MA4YWxkTrZu0gW"
    out = b""
    for name, value in fields.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; "
                f"name=\"{name}\"\r\n\r\n{value}\r\n").encode()
    out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\";"
            f" filename=\"{filename}\"\r\nContent-Type: {ctype}\r\n\r\n"
            ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return out, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def upload(env, data=b"\xff\xd8\xff jpeg bytes", ctype="image/jpeg",
           declared="image/jpeg") -> Resp:
    fields = {"messaging_product": "whatsapp"}
    if declared:
        fields["type"] = declared
    body, headers = multipart(fields, data, ctype)
    return graph(env, "POST", f"{PNID_A}/media", body, headers=headers)


def test_media_upload_info_download_expiry_delete(env):
    configure(env, media_url_ttl=1.0)
    data = b"\xff\xd8\xff jpeg bytes"
    media_id = upload(env, data).json["id"]
    assert media_id.isdigit()
    info = graph(env, "GET", media_id).json
    assert info["mime_type"] == "image/jpeg" and info["id"] == media_id
    assert info["sha256"] == hashlib.sha256(data).hexdigest()
    assert info["file_size"] == str(len(data))
    assert http("GET", info["url"], token=None).status == 401
    assert http("GET", info["url"], token=TOKEN_B).status == 401
    got = http("GET", info["url"])
    assert (got.status, got.raw) == (200, data)
    assert got.headers["Content-Type"] == "image/jpeg"
    time.sleep(1.1)
    assert http("GET", info["url"]).status == 404
    fresh = graph(env, "GET", media_id).json["url"]
    assert fresh != info["url"] and http("GET", fresh).raw == data
    assert graph(env, "DELETE", media_id).json == {"success": True}
    assert graph(env, "GET", media_id).error["code"] == 100


def test_media_upload_errors(env):
    mismatch = upload(env, ctype="image/png", declared="image/jpeg")
    assert mismatch.error["code"] == 131053
    unknown = upload(env, ctype="application/x-foo", declared=None)
    assert unknown.error["code"] == 100
    big = upload(env, data=b"x" * (5 * 1024 * 1024 + 1))
    assert big.error["code"] == 131053
    assert graph(env, "GET", upload(env).json["id"],
                 token=TOKEN_B).error["code"] == 100
    recorded = env.ctl.get("requests", path_contains="/media")[0]
    assert recorded["json"]["messaging_product"] == "whatsapp"
    assert recorded["json"]["file"]["content_type"] == "image/png"


def test_send_with_unknown_media_id_fails_131053(env):
    inbound(env)
    known = upload(env).json["id"]
    good = send(env, image(id=known)).json["messages"][0]["id"]
    bad = send(env, image(id="123")).json["messages"][0]["id"]
    idle(env)
    assert env.receiver.status_names(good) == ["sent", "delivered", "read"]
    assert env.receiver.statuses(bad)[0]["errors"][0]["code"] == 131053


# ---------------------------------------------------------------------------
# Signatures
# ---------------------------------------------------------------------------

META_TEXT_EXAMPLE = {
    "object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "changes": [{"value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881",
                         "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Sheena Nelson"},
                          "wa_id": "16505551234"}],
            "messages": [{
                "from": "16505551234", "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgAS"
                "GBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", "timestamp": "1749416383",
                "type": "text",
                "text": {"body": "Does it come in another color?"}}]},
            "field": "messages"}]}]}


def local_hmac(body: bytes) -> str:
    return "sha256=" + hmac.new(b"test_app_secret", body,
                                hashlib.sha256).hexdigest()


def test_signature_known_vector():
    body = fc.meta_json(META_TEXT_EXAMPLE)
    assert len(body) == 499
    assert fc.sign(body, "test_app_secret") == (
        "sha256=ded1d1d9621cffa39832ccf2b330fa476b4dc8ec2a5d102e1e554312b3f"
        "21d42")


def test_signature_over_escaped_unicode():
    example = json.loads(json.dumps(META_TEXT_EXAMPLE))
    value = example["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["profile"]["name"] = "Jos\u00e9"
    value["messages"][0]["text"]["body"] = "caf\u00e9 \U0001F600"
    body = fc.meta_json(example)
    assert b'"name":"Jos\\u00e9"' in body
    assert b'"body":"caf\\u00e9 \\ud83d\\ude00"' in body
    assert max(body) < 0x80
    assert fc.sign(body, "test_app_secret") == local_hmac(body)
    utf8 = json.dumps(example, ensure_ascii=False,
                      separators=(",", ":")).encode()
    assert local_hmac(utf8) != local_hmac(body)


def test_webhook_is_signed_over_the_exact_bytes_sent(env):
    inbound(env, name="Jos\u00e9", text="caf\u00e9 \U0001F600")
    post = env.receiver.posts[0]
    assert post.valid and post.signature == local_hmac(post.raw)
    assert b'"name":"Jos\\u00e9"' in post.raw
    assert b'"body":"caf\\u00e9 \\ud83d\\ude00"' in post.raw
    assert env.ctl.get("deliveries")[0]["signature"] == post.signature


def signed_neighbours(raw: bytes, signature: str) -> list:
    """The bodies one digit away from raw that signature is valid for."""
    found = []
    for i, byte in enumerate(raw):
        for digit in b"0123456789":
            if chr(byte).isdigit() and digit != byte:
                body = raw[:i] + bytes([digit]) + raw[i + 1:]
                if local_hmac(body) == signature:
                    found.append(body)
    return found


@pytest.mark.parametrize("mode", ["bad", "upper", "upperhex", "none",
                                  "tamper"])
def test_broken_signatures(env, mode):
    result = inbound(env, signature=mode, retry=False)
    assert result["delivery"]["status"] == 200
    post = env.receiver.posts[0]
    assert not post.valid and post.body is not None
    good = local_hmac(post.raw)
    if mode == "none":
        assert post.signature is None
    elif mode == "upper":
        assert post.signature == "SHA256=" + good[7:]
    elif mode == "upperhex":
        assert post.signature == "sha256=" + good[7:].upper()
    elif mode == "tamper":
        assert post.signature != good
        assert len(signed_neighbours(post.raw, post.signature)) == 1
    else:
        assert post.signature.startswith("sha256=") and \
            post.signature != good


def test_raw_webhook_body(env):
    raw = '{"object":"whatsapp_business_account","entry":[]}'
    env.ctl.post("webhook/raw", {"body": raw})
    tampered = env.ctl.post("webhook/raw", {"body": raw,
                                            "signature": "tamper"})
    assert tampered["delivery"]["ok"]
    first, second = env.receiver.posts
    assert first.raw == raw.encode() and first.valid
    assert second.raw != raw.encode() and not second.valid


# ---------------------------------------------------------------------------
# Delivery semantics
# ---------------------------------------------------------------------------


def test_retries_on_non_200_with_identical_bytes(env):
    env.receiver.replies[:] = [500, 503]
    result = inbound(env, wait="final")
    assert result["delivery"]["ok"]
    delivery = env.ctl.get("deliveries")[0]
    assert [a["status"] for a in delivery["attempts"]] == [500, 503, 200]
    assert [a["n"] for a in delivery["attempts"]] == [1, 2, 3]
    gaps = [b["time"] - a["time"] for a, b in
            zip(delivery["attempts"], delivery["attempts"][1:])]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1
    posts = env.receiver.posts
    assert len(posts) == 3 and len({(p.raw, p.signature) for p in posts}) == 1


def test_retries_are_capped(env):
    env.receiver.replies[:] = [500] * 10
    result = inbound(env, wait="final")
    assert not result["delivery"]["ok"]
    delivery = env.ctl.get("deliveries")[0]
    assert [a["status"] for a in delivery["attempts"]] == [500] * 4
    assert delivery["done"] and len(env.receiver.posts) == 4


def test_unreachable_webhook_is_logged(env):
    configure(env, webhook_url="http://127.0.0.1:9/nothing",
              webhook_max_attempts=2)
    result = inbound(env, wait="final")
    assert result["delivery"]["status"] is None
    attempts = env.ctl.get("deliveries")[0]["attempts"]
    assert len(attempts) == 2 and all(a["error"] for a in attempts)


def test_duplicates_have_same_body_and_signature(env):
    result = inbound(env, duplicate=2)
    assert result["delivery"]["statuses"] == [200, 200, 200]
    posts = env.receiver.posts
    assert len(posts) == 3 and all(p.valid for p in posts)
    assert len({(p.raw, p.signature) for p in posts}) == 1
    assert [d["copy"] for d in env.ctl.get("deliveries")] == [0, 1, 2]


def test_batch_across_entries_and_two_numbers(env):
    batch = [{"from": USER, "text": "one"}, {"from": USER2, "text": "two"},
             {"pnid": PNID_B, "from": USER, "text": "three"}]
    batch += [{"wamid": f"wamid.S{i}", "status": s, "recipient_id": USER,
               "pnid": PNID_A if i < 3 else PNID_B}
              for i, s in enumerate(["sent", "delivered", "read", "sent",
                                     "read"])]
    result = env.ctl.post("inbound", {"pnid": PNID_A, "batch": batch})
    assert len(result["wamids"]) == 8
    assert len(env.receiver.posts) == 1
    body = env.receiver.posts[0].body
    assert len(body["entry"]) == 2
    by_pnid = {}
    for entry in body["entry"]:
        for change in entry["changes"]:
            value = change["value"]
            counts = by_pnid.setdefault(
                value["metadata"]["phone_number_id"], [0, 0])
            counts[0] += len(value.get("messages", []))
            counts[1] += len(value.get("statuses", []))
    assert by_pnid == {PNID_A: [2, 3], PNID_B: [1, 2]}
    spread = env.ctl.post("inbound", {"batch": batch, "layout": "entries"})
    assert len(env.receiver.posts[1].body["entry"]) == 8
    assert spread["delivery"]["ok"]


# ---------------------------------------------------------------------------
# Inbound message types
# ---------------------------------------------------------------------------

INBOUND_CASES = {
    "text": ({"text": "hi"}, lambda m: m["text"] == {"body": "hi"}),
    "reply": ({"text": "re", "reply_to": "wamid.ORIG"},
              lambda m: m["context"] == {"from": DISPLAY_A,
                                         "id": "wamid.ORIG"}),
    "forwarded": ({"text": "fw", "forwarded": True},
                  lambda m: m["context"] == {"forwarded": True}),
    "image": ({"type": "image", "caption": "cap", "with_url": True},
              lambda m: m["image"]["caption"] == "cap"
              and m["image"]["url"].startswith("http://127.0.0.1")),
    "video": ({"type": "video"}, lambda m: m["video"]["mime_type"] ==
              "video/mp4"),
    "document": ({"type": "document", "filename": "r.pdf"},
                 lambda m: m["document"]["filename"] == "r.pdf"),
    "audio": ({"type": "audio"}, lambda m: m["audio"]["voice"] is False),
    "voice": ({"type": "voice"}, lambda m: m["type"] == "audio" and
              m["audio"]["voice"] is True and
              m["audio"]["mime_type"] == "audio/ogg; codecs=opus"),
    "sticker": ({"type": "sticker"},
                lambda m: m["sticker"]["animated"] is False),
    "reaction": ({"type": "reaction", "message_id": "wamid.T",
                  "emoji": "\U0001F62E"},
                 lambda m: m["reaction"] == {"message_id": "wamid.T",
                                             "emoji": "\U0001F62E"}),
    "unreaction empty": ({"type": "reaction", "message_id": "wamid.T",
                          "emoji": ""},
                         lambda m: m["reaction"]["emoji"] == ""),
    "unreaction absent": ({"type": "reaction", "message_id": "wamid.T"},
                          lambda m: "emoji" not in m["reaction"]),
    "location": ({"type": "location", "name_of_place": "HQ",
                  "address": "1 Hacker Way"},
                 lambda m: m["location"]["name"] == "HQ" and
                 isinstance(m["location"]["latitude"], float)),
    "location bare": ({"type": "location"},
                      lambda m: set(m["location"]) == {"latitude",
                                                       "longitude"}),
    "contacts": ({"type": "contacts"},
                 lambda m: m["contacts"][0]["name"]["first_name"] ==
                 "Chandler"),
    "unsupported": ({"type": "unsupported"},
                    lambda m: m["errors"][0]["code"] == 131051),
    "button": ({"type": "button", "reply_to": "wamid.TPL", "payload": "p"},
               lambda m: m["button"]["payload"] == "p" and
               m["context"]["id"] == "wamid.TPL"),
    "button_reply": ({"type": "interactive",
                      "button_reply": {"id": "b1", "title": "Yes"}},
                     lambda m: m["interactive"]["button_reply"]["id"] ==
                     "b1"),
    "list_reply": ({"type": "interactive", "list_reply": {
        "id": "l1", "title": "T", "description": "D"}},
        lambda m: m["interactive"]["type"] == "list_reply"),
    "edit": ({"type": "edit", "original_message_id": "wamid.O",
              "message": {"type": "image", "caption": "new caption"}},
             lambda m: m["edit"]["original_message_id"] == "wamid.O" and
             m["edit"]["message"]["image"]["caption"] == "new caption"),
    "revoke": ({"type": "revoke", "original_message_id": "wamid.O"},
               lambda m: m["revoke"] == {"original_message_id": "wamid.O"}),
}


@pytest.mark.parametrize("case", list(INBOUND_CASES))
def test_inbound_message_types(env, case):
    spec, check = INBOUND_CASES[case]
    result = inbound(env, **spec)
    assert result["delivery"]["status"] == 200
    value = env.receiver.values()[0]
    message = value["messages"][0]
    assert message["id"] == result["wamids"][0]
    assert message["from"] == USER and message["timestamp"].isdigit()
    assert value["contacts"] == [{"profile": {"name": "Sheena Nelson"},
                                  "wa_id": USER}]
    assert value["metadata"] == {"display_phone_number": DISPLAY_A,
                                 "phone_number_id": PNID_A}
    assert check(message), message
    for media_id in result["media_ids"]:
        info = graph(env, "GET", media_id).json
        assert info["id"] == media_id and http("GET", info["url"]).status \
            == 200


def test_inbound_system_and_errors_variants(env):
    inbound(env, type="system", new_wa_id="16505550000")
    inbound(env, type="errors")
    system_value, errors_value = env.receiver.values()
    assert "contacts" not in system_value
    assert system_value["messages"][0]["system"]["type"] == \
        "user_changed_number"
    assert errors_value["errors"][0]["code"] == 130429
    assert "messages" not in errors_value


def test_inbound_media_data_round_trips(env):
    data = bytes(range(256))
    result = inbound(env, type="document", filename="x.bin",
                     mime_type="application/octet-stream",
                     data_b64=base64.b64encode(data).decode())
    info = graph(env, "GET", result["media_ids"][0]).json
    assert http("GET", info["url"]).raw == data
    stored = env.ctl.get("media", id=result["media_ids"][0])
    assert base64.b64decode(stored["data_b64"]) == data


# ---------------------------------------------------------------------------
# Verification handshake, request log, reset
# ---------------------------------------------------------------------------


def test_verification_handshake(env):
    good = env.ctl.post("verify")
    assert good["ok"] and good["status"] == 200
    assert good["body"] == good["challenge"]
    assert f"hub.verify_token={VERIFY}" in good["url"]
    wrong = env.ctl.post("verify", {"verify_token": "nope"})
    assert not wrong["ok"] and wrong["status"] == 403
    missing = env.ctl.post("verify", {"omit": ["hub.challenge"]})
    assert not missing["ok"]


def test_requests_are_recorded_with_headers_and_response(env):
    inbound(env)
    send(env)
    graph(env, "GET", PNID_A)
    records = env.ctl.get("requests", path_contains="/messages")
    assert len(records) == 1
    record = records[0]
    assert record["method"] == "POST"
    assert record["headers"]["Authorization"] == f"Bearer {TOKEN_A}"
    assert record["json"] == text_body()
    assert record["status"] == 200
    assert record["response"]["contacts"][0]["wa_id"] == USER
    later = env.ctl.get("requests", since=record["seq"])
    assert [r["method"] for r in later] == ["GET"]


def test_reset_restores_start_state(env):
    configure(env, maintenance=True)
    inbound(env)
    env.ctl.post("reset")
    state = env.ctl.get("state")
    assert state["config"]["maintenance"] is False
    assert state["config"]["status_delay_ms"] == 5
    assert state["counts"] == {"requests": 0, "sent": 0, "deliveries": 0}
    assert {a["pnid"] for a in state["accounts"]} == {PNID_A, PNID_B}
    wamid = send(env).json["messages"][0]["id"]
    idle(env)
    assert env.receiver.status_names(wamid) == ["failed"]


def test_control_errors_are_400(env):
    for path, body in [("config", {"no_such_key": 1}),
                       ("config", {"statuses": "sometimes"}),
                       ("inbound", {"type": "hologram", "from": USER}),
                       ("fail", {"error": "explode"})]:
        with pytest.raises(RuntimeError, match=": 400 "):
            env.ctl.post(path, body)


# ---------------------------------------------------------------------------
# Command line and sandbox
# ---------------------------------------------------------------------------


def start_cli(*args) -> tuple:
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "fake_cloudapi.py")
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


def test_sandbox_echo(env):
    proc, port = start_cli("--sandbox", "--app-secret", SECRET,
                           "--webhook-url", env.receiver.url)
    try:
        base = f"http://127.0.0.1:{port}"
        resp = http("POST", f"{base}/{VER}/100000000000001/messages",
                    text_body(to="+15550001111", text="hi there"),
                    token="sandbox-token")
        assert resp.json["contacts"][0]["wa_id"] == "15550001111"
        wamid = resp.json["messages"][0]["id"]
        echo = wait_for(lambda: [m for m in env.receiver.messages()
                                 if m["text"]["body"] == "echo: hi there"])
        assert env.receiver.status_names(wamid) == ["sent", "delivered",
                                                    "read"]
        value = [v for v in env.receiver.values() if "messages" in v][0]
        assert echo[0]["from"] == "15550001111"
        assert value["contacts"][0]["profile"]["name"] == "Sandbox Echo"
        assert value["metadata"]["phone_number_id"] == "100000000000001"
        assert all(p.valid for p in env.receiver.posts)
    finally:
        proc.terminate()
        proc.wait(5)
    assert "sandbox-token" in proc.stderr.read()


def test_cli_accounts_and_config(env):
    proc, port = start_cli("--app-secret", SECRET, "--webhook-url",
                           env.receiver.url, "--verify-token", VERIFY,
                           "--account", "123456789012345:tok:15551112222",
                           "--config", '{"mps": 5}')
    try:
        ctl = fc.ControlClient(f"http://127.0.0.1:{port}")
        state = ctl.get("state")
        assert state["accounts"][0]["pnid"] == "123456789012345"
        assert state["config"]["mps"] == 5
        assert ctl.post("verify")["ok"]
    finally:
        proc.terminate()
        proc.wait(5)


def test_fake_thread_helper(env):
    fake = fc.FakeThread(app_secret=SECRET, webhook_url=env.receiver.url,
                         verify_token=VERIFY, sandbox=True)
    port = fake.start()
    try:
        ctl = fc.ControlClient(fake.base_url)
        assert fake.base_url.endswith(f":{port}")
        ctl.post("fail", {"error": "drop"})
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            http("GET", f"{fake.base_url}/{VER}/100000000000001",
                 token="sandbox-token")
        record = ctl.get("requests")[0]
        assert record["status"] is None and record["response"] is None
        ctl.post("inbound", {"from": "+15550002222", "text": "hello"})
        assert env.receiver.messages()[0]["from"] == "15550002222"
    finally:
        fake.stop()
