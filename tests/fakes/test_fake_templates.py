# SPDX-License-Identifier: MIT
"""Self-tests of the fake Cloud API's message templates (part E).

Run with: /usr/bin/python3 -m pytest -q tests/fakes
The store and control API, GET /<WABA_ID>/message_templates (fields,
filters, cursors, auth) and the checks of a template send on
POST /<PNID>/messages, with the webhook receiver of test_fake_cloudapi.
"""
import os
import sys
import urllib.parse

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_cloudapi as fc  # noqa: E402
import test_fake_cloudapi as base  # noqa: E402
from test_fake_cloudapi import (  # noqa: E402
    PNID_A, PNID_B, TOKEN_A, TOKEN_B, USER, Resp, graph, http, idle,
    inbound, send, text_body)

env, clean = base.env, base.clean   # the fake, its receiver, the reset

WABA_A = "102290129340398"
RESERVATION = {
    "name": "reservation_confirmation", "parameter_format": "NAMED",
    "language": "en_US", "category": "UTILITY", "components": [
        {"type": "HEADER", "format": "IMAGE",
         "example": {"header_handle": ["https://scontent.example/1"]}},
        {"type": "BODY", "text": "Your reservation for {{number_of_guests}} "
         "on {{day}} is confirmed."},
        {"type": "FOOTER", "text": "Lucky Shrub Eatery"},
        {"type": "BUTTONS", "buttons": [
            {"type": "URL", "text": "Change reservation",
             "url": "https://www.luckyshrub.example/r/{{1}}",
             "example": ["https://www.luckyshrub.example/r/860198"]},
            {"type": "QUICK_REPLY", "text": "Cancel reservation"}]}]}
COUPON = {
    "name": "coupon_reminder", "language": "en", "category": "MARKETING",
    "sub_category": "CUSTOM", "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Act fast, {{1}}!"},
        {"type": "BODY", "text": "Your code {{1}} expires in {{2}} days!"},
        {"type": "BUTTONS", "buttons": [
            {"type": "QUICK_REPLY", "text": "Unsubscribe"}]}]}
RECEIPT = {
    "name": "order_receipt", "language": "en_US", "components": [
        {"type": "HEADER", "format": "DOCUMENT"},
        {"type": "BODY", "text": "Thanks {{1}}, here is order {{2}}."}]}
LONG = {"name": "long_body", "language": "en_US",
        "components": [{"type": "BODY", "text": "x" * 1000 + " {{1}}"}]}


def set_templates(env, *templates, **extra):
    body = dict({"pnid": PNID_A, "templates": list(templates)}, **extra)
    return env.ctl.post("templates", body)


def tpl_send(name, language, components=None, to=f"+{USER}") -> dict:
    template = {"name": name, "language": {"policy": "deterministic",
                                           "code": language}}
    if components is not None:
        template["components"] = components
    return {"messaging_product": "whatsapp", "recipient_type": "individual",
            "to": to, "type": "template", "template": template}


def body_params(*texts, names=None) -> dict:
    params = [{"type": "text", "text": t} for t in texts]
    for param, name in zip(params, names or []):
        param["parameter_name"] = name
    return {"type": "body", "parameters": params}


def coupon_components(code="SUMMER20", days="10", who="Pablo") -> list:
    return [{"type": "header", "parameters": [{"type": "text", "text": who}]},
            body_params(code, days)]


def reservation_components(image=True, url=True, named=True) -> list:
    out = []
    if image:
        out.append({"type": "header", "parameters": [
            {"type": "image", "image": {"link": "https://x.example/a.jpg"}}]})
    out.append(body_params("4", "Saturday", names=[
        "number_of_guests", "day"] if named else None))
    if url:
        out.append({"type": "button", "sub_type": "url", "index": "0",
                    "parameters": [{"type": "text", "text": "860198"}]})
    out.append({"type": "button", "sub_type": "QUICK_REPLY", "index": 1,
                "parameters": [{"type": "payload", "payload": "CANCEL"}]})
    return out


def error_of(resp) -> tuple:
    err = resp.error
    return (resp.status, err["code"], err["error_data"]["details"])


def list_templates(env, waba=WABA_A, token=TOKEN_A, **query) -> Resp:
    path = f"{waba}/message_templates"
    if query:
        path += "?" + urllib.parse.urlencode(query)
    return graph(env, "GET", path, token=token)


def use_waba(env) -> None:
    """Account A belongs to WABA_A, which its webhooks must show."""
    env.ctl.post("accounts", {"pnid": PNID_A, "token": TOKEN_A,
                              "display_phone_number": "15550783881",
                              "waba_id": WABA_A})


# ---------------------------------------------------------------------------
# The store, the WABA id and the listing
# ---------------------------------------------------------------------------


def test_waba_id_is_the_entry_id_of_the_numbers_webhooks(env):
    use_waba(env)
    inbound(env)
    post = env.receiver.posts[-1].body
    assert post["entry"][0]["id"] == WABA_A
    set_templates(env, COUPON)
    assert env.ctl.get("templates", waba_id=WABA_A)["templates"][0][
        "name"] == "coupon_reminder"
    assert [t["name"] for t in list_templates(env).json["data"]] == [
        "coupon_reminder"]


def test_control_upserts_by_name_and_language_and_replaces(env):
    use_waba(env)
    set_templates(env, COUPON, RESERVATION)
    german = dict(COUPON, language="de")
    out = set_templates(env, german, dict(COUPON, category="UTILITY"))
    assert [(t["name"], t["language"], t["category"])
            for t in out["templates"]] == [
        ("reservation_confirmation", "en_US", "UTILITY"),
        ("coupon_reminder", "de", "MARKETING"),
        ("coupon_reminder", "en", "UTILITY")]
    out = set_templates(env, LONG, replace=True)
    assert [t["name"] for t in out["templates"]] == ["long_body"]
    with pytest.raises(RuntimeError, match="name"):
        set_templates(env, {"name": "Bad Name"})
    with pytest.raises(RuntimeError, match="status"):
        set_templates(env, dict(LONG, status="MAYBE"))


def test_listing_default_fields_and_fields_parameter(env):
    use_waba(env)
    set_templates(env, RESERVATION, COUPON)
    data = list_templates(env).json["data"]
    assert set(data[0]) == {"name", "parameter_format", "components",
                            "language", "status", "category", "id"}
    assert data[1]["sub_category"] == "CUSTOM"
    assert data[0]["parameter_format"] == "NAMED"
    assert data[1]["parameter_format"] == "POSITIONAL"
    assert data[0]["components"] == RESERVATION["components"]
    assert isinstance(data[0]["id"], str) and data[0]["id"].isdigit()
    only = list_templates(env, fields="name,status,rejected_reason").json
    assert only["data"][0] == {"name": "reservation_confirmation",
                               "status": "APPROVED",
                               "rejected_reason": "NONE",
                               "id": data[0]["id"]}


def test_listing_filters(env):
    use_waba(env)
    set_templates(env, RESERVATION, COUPON, LONG,
                  dict(COUPON, name="old_coupon", status="PAUSED"))

    def names(**query):
        return [t["name"] for t in list_templates(env, **query).json["data"]]
    assert names(status="approved") == ["reservation_confirmation",
                                        "coupon_reminder", "long_body"]
    assert names(status="PAUSED,REJECTED") == ["old_coupon"]
    assert names(category="MARKETING") == ["coupon_reminder", "old_coupon"]
    assert names(language="en") == ["coupon_reminder", "old_coupon"]
    assert names(name="long_body") == ["long_body"]
    assert names(content="expires") == ["coupon_reminder", "old_coupon"]
    assert names(status="APPROVED", category="MARKETING") == [
        "coupon_reminder"]
    summary = list_templates(env, status="APPROVED",
                             summary="total_count,message_template_limit")
    assert summary.json["summary"] == {"total_count": 3,
                                       "message_template_limit": 250}


def test_listing_pages_with_cursors_and_paging_next(env):
    use_waba(env)
    set_templates(env, *[dict(LONG, name=f"t{i}") for i in range(5)])
    first = list_templates(env, limit=2).json
    assert [t["name"] for t in first["data"]] == ["t0", "t1"]
    assert "previous" not in first["paging"]
    seen = [t["name"] for t in first["data"]]
    page = first
    while "next" in page["paging"]:
        nxt = urllib.parse.urlsplit(page["paging"]["next"])
        assert nxt.path == f"/v21.0/{WABA_A}/message_templates"
        assert urllib.parse.parse_qs(nxt.query)["limit"] == ["2"]
        resp = http("GET", page["paging"]["next"])
        assert resp.status == 200
        page = resp.json
        seen += [t["name"] for t in page["data"]]
    assert seen == ["t0", "t1", "t2", "t3", "t4"]
    assert [t["name"] for t in page["data"]] == ["t4"]
    back = list_templates(env, limit=2,
                          before=page["paging"]["cursors"]["before"]).json
    assert [t["name"] for t in back["data"]] == ["t2", "t3"]
    after = list_templates(env, limit=2,
                           after=first["paging"]["cursors"]["after"]).json
    assert [t["name"] for t in after["data"]] == ["t2", "t3"]
    bad = list_templates(env, after="bm9wZQ")
    assert (bad.status, bad.error["code"]) == (400, 100)


def test_one_template_by_id(env):
    use_waba(env)
    tid = set_templates(env, COUPON)["templates"][0]["id"]
    assert graph(env, "GET", f"{tid}?fields=status").json == {
        "status": "APPROVED", "id": tid}
    assert graph(env, "GET", tid).json["name"] == "coupon_reminder"
    resp = graph(env, "GET", tid, token=TOKEN_B)
    assert (resp.status, resp.error["code"]) == (400, 100)


def test_listing_empty_waba(env):
    use_waba(env)
    assert list_templates(env).json == {"data": []}


def test_listing_auth_and_unknown_waba(env):
    use_waba(env)
    set_templates(env, COUPON)
    for token in (None, "nope"):
        resp = list_templates(env, token=token)
        assert (resp.status, resp.error["code"]) == (401, 190)
    # the other account's token does not reach this WABA
    resp = list_templates(env, token=TOKEN_B)
    assert (resp.status, resp.error["code"],
            resp.error["error_subcode"]) == (400, 100, 33)
    resp = list_templates(env, waba="999999999999999")
    assert (resp.status, resp.error["code"],
            resp.error["error_subcode"]) == (400, 100, 33)
    assert "999999999999999" in resp.error["message"]
    env.ctl.post("config", {"expired_token": True})
    resp = list_templates(env)
    assert (resp.status, resp.error["code"],
            resp.error["error_subcode"]) == (401, 190, 463)
    env.ctl.post("config", {"expired_token": False})
    env.ctl.post("accounts", {"pnid": PNID_A, "token": TOKEN_A,
                              "display_phone_number": "15550783881",
                              "waba_id": WABA_A,
                              "scopes": ["whatsapp_business_messaging"]})
    resp = list_templates(env)
    assert (resp.status, resp.error["code"]) == (403, 200)


def test_status_change_and_its_webhook(env):
    use_waba(env)
    set_templates(env, COUPON)
    out = env.ctl.post("templates/status", {
        "pnid": PNID_A, "name": "coupon_reminder", "event": "PAUSED",
        "webhook": True, "other_info": {"title": "FIRST_PAUSE",
                                        "description": "low quality"}})
    assert out["template"]["status"] == "PAUSED"
    assert out["delivery"]["status"] == 200
    post = env.receiver.posts[-1]
    assert post.valid
    entry = post.body["entry"][0]
    assert entry["id"] == WABA_A and isinstance(entry["time"], int)
    change = entry["changes"][0]
    assert change["field"] == "message_template_status_update"
    assert change["value"] == {
        "event": "PAUSED", "message_template_id": int(out["template"]["id"]),
        "message_template_name": "coupon_reminder",
        "message_template_language": "en", "reason": "NONE",
        "message_template_category": "MARKETING",
        "other_info": {"title": "FIRST_PAUSE", "description": "low quality"}}
    assert list_templates(env).json["data"][0]["status"] == "PAUSED"
    count = len(env.receiver.posts)
    out = env.ctl.post("templates/status", {"name": "coupon_reminder",
                                            "event": "REINSTATED"})
    assert out["template"]["status"] == "APPROVED"
    assert "delivery" not in out and len(env.receiver.posts) == count


# ---------------------------------------------------------------------------
# Template sends
# ---------------------------------------------------------------------------


def test_send_renders_and_skips_the_window(env):
    set_templates(env, COUPON)
    resp = send(env, tpl_send("coupon_reminder", "en", coupon_components()))
    assert resp.status == 200
    wamid = resp.json["messages"][0]["id"]
    idle(env)
    # nobody wrote first: a text would fail with 131047, a template does not
    assert env.receiver.status_names(wamid) == ["sent", "delivered", "read"]
    pricing = env.receiver.statuses(wamid)[0]["pricing"]
    assert pricing["category"] == "marketing"
    sent = env.ctl.get("sent")[-1]
    assert sent["outcome"] == "accepted"
    assert sent["rendered"] == ("Act fast, Pablo!\n"
                                "Your code SUMMER20 expires in 10 days!")
    assert sent["template"]["name"] == "coupon_reminder"
    assert sent["template"]["buttons"] == [{"type": "QUICK_REPLY",
                                            "text": "Unsubscribe"}]
    text = send(env, text_body())
    assert text.status == 200
    idle(env)
    assert env.ctl.get("sent")[-1]["outcome"] == "failed:131047"


def test_send_named_with_media_header_and_url_button(env):
    set_templates(env, RESERVATION)
    resp = send(env, tpl_send("reservation_confirmation", "en_US",
                              reservation_components()))
    assert resp.status == 200
    sent = env.ctl.get("sent")[-1]
    assert sent["rendered"] == ("Your reservation for 4 on Saturday is "
                                "confirmed.\nLucky Shrub Eatery")
    assert sent["template"]["header"] == {
        "image": {"link": "https://x.example/a.jpg"}}
    assert sent["template"]["buttons"][0]["url"] == \
        "https://www.luckyshrub.example/r/860198"
    # named values may come in any order
    comps = reservation_components()
    comps[1]["parameters"].reverse()
    assert send(env, tpl_send("reservation_confirmation", "en_US",
                              comps)).status == 200
    assert env.ctl.get("sent")[-1]["rendered"].startswith(
        "Your reservation for 4 on Saturday")


def test_unknown_name_or_inexact_language_is_132001(env):
    set_templates(env, COUPON, RESERVATION)
    for name, lang in (("nope", "en"), ("coupon_reminder", "en_US"),
                       ("reservation_confirmation", "en")):
        resp = send(env, tpl_send(name, lang, coupon_components()))
        status, code, details = error_of(resp)
        assert (status, code) == (404, 132001)
        assert resp.error["message"] == ("(#132001) Template name does not "
                                         "exist in the translation")
        assert details == f"template name ({name}) does not exist in {lang}"
    assert env.ctl.get("sent") == []


def test_status_other_than_approved_refuses_the_send(env):
    set_templates(env, COUPON)
    expected = {"PAUSED": (400, 132015), "DISABLED": (400, 132016),
                "PENDING": (404, 132001), "REJECTED": (404, 132001),
                "IN_APPEAL": (404, 132001), "ARCHIVED": (404, 132001)}
    for status, (http_status, code) in expected.items():
        env.ctl.post("templates/status", {"name": "coupon_reminder",
                                          "status": status})
        resp = send(env, tpl_send("coupon_reminder", "en",
                                  coupon_components()))
        assert (resp.status, resp.error["code"]) == (http_status, code), \
            status
    assert env.ctl.get("sent") == []
    env.ctl.post("templates/status", {"name": "coupon_reminder",
                                      "event": "REINSTATED"})
    assert send(env, tpl_send("coupon_reminder", "en",
                              coupon_components())).status == 200


def test_parameter_count_mismatch_is_132000(env):
    set_templates(env, COUPON)
    comps = coupon_components()
    comps[1] = body_params("SUMMER20")
    assert error_of(send(env, tpl_send("coupon_reminder", "en", comps))) == (
        400, 132000, "body: number of localizable_params (1) does not match "
        "the expected number of params (2)")
    resp = send(env, tpl_send("coupon_reminder", "en", comps))
    assert resp.error["message"] == ("(#132000) Number of parameters does "
                                     "not match the expected number of "
                                     "params")
    comps = coupon_components()[1:]
    assert error_of(send(env, tpl_send("coupon_reminder", "en", comps))) == (
        400, 132000, "header: number of localizable_params (0) does not "
        "match the expected number of params (1)")
    assert error_of(send(env, tpl_send("coupon_reminder", "en")))[:2] == (
        400, 132000)


def test_parameter_name_format_mismatch_is_132012(env):
    set_templates(env, COUPON, RESERVATION)
    comps = coupon_components()
    comps[1] = body_params("SUMMER20", "10", names=["code", "days"])
    status, code, details = error_of(send(env, tpl_send(
        "coupon_reminder", "en", comps)))
    assert (status, code) == (400, 132012)
    assert "POSITIONAL" in details
    resp = send(env, tpl_send("reservation_confirmation", "en_US",
                              reservation_components(named=False)))
    assert error_of(resp) == (400, 132012, "body: parameter_name is missing")
    assert resp.error["message"] == ("(#132012) Parameter format does not "
                                     "match format in the created template")
    comps = reservation_components()
    comps[1]["parameters"][1]["parameter_name"] = "date"
    assert error_of(send(env, tpl_send("reservation_confirmation", "en_US",
                                       comps)))[:2] == (400, 132012)


def test_media_header_is_required_on_every_send(env):
    set_templates(env, RESERVATION, RECEIPT)
    resp = send(env, tpl_send("reservation_confirmation", "en_US",
                              reservation_components(image=False)))
    assert error_of(resp) == (400, 132012, "header: Format mismatch, "
                              "expected IMAGE, received UNKNOWN")
    video = [{"type": "header", "parameters": [
        {"type": "video", "video": {"id": "1234"}}]},
        body_params("Pablo", "860198")]
    assert error_of(send(env, tpl_send("order_receipt", "en_US", video))) == (
        400, 132012, "header: Format mismatch, expected DOCUMENT, received "
        "VIDEO")
    doc = [{"type": "header", "parameters": [
        {"type": "document", "document": {"link": "https://x.example/r.pdf",
                                          "filename": "receipt.pdf"}}]},
           body_params("Pablo", "860198")]
    assert send(env, tpl_send("order_receipt", "en_US", doc)).status == 200


def test_url_button_without_its_parameter_is_131008(env):
    set_templates(env, RESERVATION)
    resp = send(env, tpl_send("reservation_confirmation", "en_US",
                              reservation_components(url=False)))
    assert error_of(resp) == (400, 131008, "buttons: Button at index 0 of "
                              "type Url requires a parameter")
    comps = reservation_components() + [
        {"type": "button", "sub_type": "quick_reply", "index": "5",
         "parameters": [{"type": "payload", "payload": "X"}]}]
    assert error_of(send(env, tpl_send("reservation_confirmation", "en_US",
                                       comps)))[:2] == (400, 131009)


SHOP = {
    "name": "shop_update", "language": "en_US", "components": [
        {"type": "BODY", "text": "Order {{1}} is on its way."},
        {"type": "BUTTONS", "buttons": [
            {"type": "URL", "text": "Shop", "url": "https://shop.example/"},
            {"type": "QUICK_REPLY", "text": "Stop"},
            {"type": "COPY_CODE", "example": "SAVE10"}]}]}


def shop_components(*buttons) -> list:
    return [body_params("A-1")] + list(buttons)


def code_button(code="SAVE10", index="2") -> dict:
    return {"type": "button", "sub_type": "copy_code", "index": index,
            "parameters": [{"type": "coupon_code", "coupon_code": code}]}


def test_button_sub_type_and_parameter_type_are_checked(env):
    set_templates(env, SHOP, RESERVATION)
    ok = send(env, tpl_send("shop_update", "en_US", shop_components(
        {"type": "button", "sub_type": "quick_reply", "index": 1,
         "parameters": [{"type": "payload", "payload": "STOP_NOW"}]},
        code_button())))
    assert ok.status == 200
    sent = env.ctl.get("sent")[-1]["template"]
    assert sent["buttons"][1] == {"type": "QUICK_REPLY", "text": "Stop",
                                  "payload": "STOP_NOW"}
    assert sent["buttons"][2]["coupon_code"] == "SAVE10"
    # a quick reply's parameter is a payload, not a text
    resp = send(env, tpl_send("shop_update", "en_US", shop_components(
        {"type": "button", "sub_type": "quick_reply", "index": "1",
         "parameters": [{"type": "text", "text": "STOP"}]}, code_button())))
    assert error_of(resp) == (400, 132012, "buttons: Format mismatch, "
                              "expected PAYLOAD, received TEXT")
    # the sub_type must be the button's type
    resp = send(env, tpl_send("shop_update", "en_US", shop_components(
        {"type": "button", "sub_type": "url", "index": "1",
         "parameters": [{"type": "text", "text": "x"}]}, code_button())))
    assert error_of(resp)[:2] == (400, 131009), resp.error
    # a URL without a variable takes no parameter
    resp = send(env, tpl_send("shop_update", "en_US", shop_components(
        {"type": "button", "sub_type": "url", "index": "0",
         "parameters": [{"type": "text", "text": "x"}]}, code_button())))
    assert error_of(resp) == (400, 132000, "buttons: number of "
                              "localizable_params (1) does not match the "
                              "expected number of params (0)")
    # a copy-code button needs its code
    resp = send(env, tpl_send("shop_update", "en_US", shop_components()))
    assert error_of(resp) == (400, 131008, "buttons: Button at index 2 of "
                              "type CopyCode requires a parameter")


def test_header_parameters_without_a_header_are_132000(env):
    set_templates(env, SHOP)
    comps = shop_components(code_button()) + [
        {"type": "header", "parameters": [{"type": "text", "text": "Hi"}]}]
    assert error_of(send(env, tpl_send("shop_update", "en_US", comps))) == (
        400, 132000, "header: number of localizable_params (1) does not "
        "match the expected number of params (0)")


def test_newline_tab_or_five_spaces_in_a_parameter_is_132018(env):
    set_templates(env, COUPON, RESERVATION)
    for bad in ("two\nlines", "a\tb", "five     spaces"):
        resp = send(env, tpl_send("coupon_reminder", "en",
                                  coupon_components(code=bad)))
        assert error_of(resp) == (400, 132018, "Param text cannot have "
                                  "new-line/tab characters or more than 4 "
                                  "consecutive spaces"), bad
    assert send(env, tpl_send("coupon_reminder", "en", coupon_components(
        code="four    spaces"))).status == 200
    comps = reservation_components()
    comps[2]["parameters"][0]["text"] = "86\n0198"
    assert error_of(send(env, tpl_send("reservation_confirmation", "en_US",
                                       comps)))[:2] == (400, 132018)


def test_rendered_body_over_1024_is_132005(env):
    set_templates(env, LONG)
    ok = send(env, tpl_send("long_body", "en_US", [body_params("y" * 23)]))
    assert ok.status == 200
    assert len(env.ctl.get("sent")[-1]["rendered"]) == 1024
    resp = send(env, tpl_send("long_body", "en_US", [body_params("y" * 24)]))
    assert (resp.status, resp.error["code"]) == (400, 132005)
    assert resp.error["message"] == "(#132005) Translated text too long"


def test_templates_are_per_waba(env):
    set_templates(env, COUPON)
    body = tpl_send("coupon_reminder", "en", coupon_components())
    assert send(env, body).status == 200
    # account B's WABA has no templates set: the legacy check (any name)
    assert send(env, body, pnid=PNID_B, token=TOKEN_B).status == 200
    assert env.ctl.get("sent")[-1]["rendered"] is None
    env.ctl.post("templates", {"pnid": PNID_B, "templates": []})
    resp = send(env, body, pnid=PNID_B, token=TOKEN_B)
    assert (resp.status, resp.error["code"]) == (404, 132001)


def test_sandbox_has_templates(env):
    fake = fc.FakeThread(app_secret="s", webhook_url="http://127.0.0.1:9/",
                         verify_token="v", sandbox=True)
    fake.start()
    try:
        ctl = fc.ControlClient(fake.base_url)
        names = [t["name"] for t in ctl.get(
            "templates", pnid=fc.SANDBOX_ACCOUNT[0])["templates"]]
        assert names == ["hello_world", "follow_up"]
    finally:
        fake.stop()



def test_two_numbers_of_one_waba_share_its_templates(env):
    use_waba(env)
    env.ctl.post("accounts", {"pnid": PNID_B, "token": TOKEN_B,
                              "display_phone_number": "4930901820",
                              "waba_id": WABA_A})
    set_templates(env, COUPON)
    body = tpl_send("coupon_reminder", "en", coupon_components())
    assert send(env, body, pnid=PNID_B, token=TOKEN_B).status == 200
    assert [t["name"] for t in list_templates(env, token=TOKEN_B).json[
        "data"]] == ["coupon_reminder"]
    inbound(env, pnid=PNID_B)
    entry = env.receiver.posts[-1].body["entry"][0]
    assert entry["id"] == WABA_A
    assert entry["changes"][0]["value"]["metadata"][
        "phone_number_id"] == PNID_B


def test_marketing_template_to_a_blocked_contact_fails_later(env):
    set_templates(env, COUPON, RECEIPT)
    env.ctl.post("config", {"marketing_blocked": {USER: 131049}})
    resp = send(env, tpl_send("coupon_reminder", "en", coupon_components()))
    assert resp.status == 200
    wamid = resp.json["messages"][0]["id"]
    idle(env)
    assert env.receiver.status_names(wamid) == ["failed"]
    err = env.receiver.statuses(wamid)[0]["errors"][0]
    assert err["code"] == 131049
    assert env.ctl.get("sent")[-1]["outcome"] == "failed:131049"
    # a utility template is not held back
    doc = [{"type": "header", "parameters": [
        {"type": "document", "document": {"link": "https://x.example/r.pdf"}}]},
        body_params("Pablo", "860198")]
    resp = send(env, tpl_send("order_receipt", "en_US", doc))
    idle(env)
    assert env.receiver.status_names(resp.json["messages"][0]["id"])[0] == \
        "sent"


def test_file_for_a_text_header_is_132012(env):
    set_templates(env, COUPON)
    comps = coupon_components()
    comps[0]["parameters"] = [{"type": "image",
                               "image": {"link": "https://x.example/a.jpg"}}]
    assert error_of(send(env, tpl_send("coupon_reminder", "en", comps))) == (
        400, 132012, "header: Format mismatch, expected TEXT, received IMAGE")
