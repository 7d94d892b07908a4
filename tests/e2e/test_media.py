# SPDX-License-Identifier: MIT
"""Files and pictures both ways (issue 4, points 5, 6 and 10;
docs/behaviour.md "Files and pictures"): a WhatsApp image, document or
voice message reaches the user as an XEP-0066 message whose body is the URL
(served by ferry itself, or put on the XMPP server's XEP-0363 service), the
caption as a separate message; an expired download URL is renewed; a file
over the limits becomes a notice; ferry killed during the fetch still
delivers it after a restart; served files expire.  A user's file (XEP-0066,
or a bare link to the upload service) is downloaded, uploaded to the fake
Cloud API and sent by media id; types WhatsApp cannot take bounce with an
error.  Every test runs against Prosody and ejabberd."""

import base64
import os
import time
import urllib.error
import urllib.request
from xml.sax.saxutils import escape, quoteattr

from harness.network import WAIT, Tracker, error_text
from harness.util import wait_for

NS_OOB = "jabber:x:oob"
NS_UPLOAD = "urn:xmpp:http:upload:0"
CONTACT = "4915112345678"
CONTACT2 = "4915198765432"


# --- helpers ------------------------------------------------------------------

def _fetch(url, timeout=10, method="GET"):
    """(status, body, headers) of url; status None when nothing answers."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), {k.lower(): v for k, v in
                                       r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, e.read(), {k.lower(): v for k, v in e.headers.items()}
    except (urllib.error.URLError, OSError):
        return None, None, {}


def _oob(m):
    """The XEP-0066 URL of a message Stanza, or None."""
    x = m.child(NS_OOB, "x")
    if x is None:
        return None
    u = x.find("{%s}url" % NS_OOB)
    return None if u is None else u.text


def _fake_bytes(bridge, media_id):
    return base64.b64decode(bridge.get("media", id=media_id)["data_b64"])


def _wait_file(bridge, c, wamid, timeout=WAIT):
    """The OOB message for wamid; checks body == URL."""
    m = bridge.wait_chat(c, wamid, timeout=timeout)
    url = _oob(m)
    assert url, "no XEP-0066 URL: %s" % m.xml
    assert m.body == url, "body must be exactly the URL: %s" % m.xml
    assert m.frm == bridge.contact_jid(CONTACT) or m.frm.startswith("+"), \
        m.xml
    return m, url


def _upload(client, server, data, filename, ctype):
    """Upload data as the client through the server's XEP-0363 service;
    returns the GET URL."""
    r = client.iq(server.upload_jid,
                  "<request xmlns='%s' filename=%s size='%d' "
                  "content-type=%s/>" % (NS_UPLOAD, quoteattr(filename),
                                         len(data), quoteattr(ctype)))
    assert r.type == "result", r.xml
    slot = r.child(NS_UPLOAD, "slot")
    put = slot.find("{%s}put" % NS_UPLOAD)
    get = slot.find("{%s}get" % NS_UPLOAD)
    headers = {"Content-Type": ctype}
    for h in put.findall("{%s}header" % NS_UPLOAD):
        headers[h.get("name")] = h.text
    req = urllib.request.Request(put.get("url"), data=data, method="PUT",
                                 headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status in (200, 201), resp.status
    return get.get("url")


def _send_file(bridge, client, url, caption=None, receipt=False):
    """A message with an XEP-0066 URL; the body is the caption or the URL."""
    oob = "<x xmlns='%s'><url>%s</url></x>" % (NS_OOB, escape(url))
    return bridge.send(client, CONTACT, caption or url, receipt=receipt,
                       extra=[oob])


def _media_dir(bridge):
    return os.path.join(os.path.dirname(bridge.ferry.store_path), "media")


def _served_files(bridge):
    d = _media_dir(bridge)
    return sorted(f for f in os.listdir(d) if not f.startswith("tmp-")) \
        if os.path.isdir(d) else []


# --- WhatsApp to XMPP, served by ferry ------------------------------------------

def test_inbound_image_served_by_ferry_with_caption(bridge):
    c = bridge.client()
    t = Tracker(c)
    data = bytes(range(256)) * 40
    r = bridge.inbound(CONTACT, type="image", name="Ana", caption="look at this",
                       data_b64=base64.b64encode(data).decode())
    wamid, media_id = r["wamids"][0], r["media_ids"][0]
    m, url = _wait_file(bridge, c, wamid)
    assert url.startswith(bridge.ferry.url + "/media/"), url
    token = url[len(bridge.ferry.url + "/media/"):].split("/")[0]
    assert len(token) == 64 and all(ch in "0123456789abcdef" for ch in token)
    assert url.endswith(".jpg"), url
    status, body, headers = _fetch(url)
    assert status == 200, (status, body)
    assert body == data == _fake_bytes(bridge, media_id)
    assert headers["content-type"] == "image/jpeg", headers
    assert headers.get("x-content-type-options") == "nosniff", headers
    assert headers.get("content-disposition", "").startswith("inline"), \
        headers
    # the caption follows as its own message, after the picture
    cap = bridge.wait_chat(c, wamid + "-caption")
    assert cap.body == "look at this" and _oob(cap) is None, cap.xml
    assert t.index(lambda s: s.id == wamid) < \
        t.index(lambda s: s.id == wamid + "-caption")
    # the file is 0600 in a 0700 directory; a wrong token is a 404
    st = os.stat(os.path.join(_media_dir(bridge), token))
    assert st.st_mode & 0o777 == 0o600, oct(st.st_mode)
    assert os.stat(_media_dir(bridge)).st_mode & 0o777 == 0o700
    bad = url.replace(token, "0" * 64)
    assert _fetch(bad)[0] == 404
    assert _fetch(bridge.ferry.url + "/media/../ferry.sqlite")[0] == 404
    # a reply to the picture quotes it (it is remembered like a text)
    reply = bridge.inbound(CONTACT, "nice, right?", name="Ana",
                           reply_to=wamid)["wamids"][0]
    rm = bridge.wait_chat(c, reply)
    assert "look at this" in rm.xml, rm.xml


def test_inbound_document_and_voice_served_by_ferry(bridge):
    c = bridge.client()
    pdf = b"%PDF-1.4\n" + os.urandom(3000)
    r = bridge.inbound(CONTACT, type="document", name="Ana",
                       filename="Quarterly report \u00e9t\u00e9.pdf",
                       mime_type="application/pdf",
                       data_b64=base64.b64encode(pdf).decode())
    m, url = _wait_file(bridge, c, r["wamids"][0])
    assert url.endswith(".pdf"), url
    status, body, headers = _fetch(url)
    assert (status, body) == (200, pdf)
    assert headers["content-type"] == "application/pdf", headers
    disp = headers.get("content-disposition", "")
    assert disp.startswith("attachment"), disp
    assert "filename*=UTF-8''Quarterly%20report%20%C3%A9t%C3%A9.pdf" in disp, \
        disp
    # no caption, no second message
    voice = os.urandom(2048)
    r = bridge.inbound(CONTACT, type="voice", name="Ana",
                       data_b64=base64.b64encode(voice).decode())
    m, url = _wait_file(bridge, c, r["wamids"][0])
    status, body, headers = _fetch(url)
    assert (status, body) == (200, voice)
    assert headers["content-type"] == "audio/ogg", headers
    assert url.endswith(".ogg"), url
    # HEAD works too
    status, body, headers = _fetch(url, method="HEAD")
    assert status == 200 and body == b"", (status, body)
    bridge.flush(c)
    assert not [s for s in c.messages.pending() if s.id and
                s.id.endswith("-caption")], "a caption out of nowhere"


def test_inbound_url_in_webhook_expired_is_renewed(make_bridge):
    """The webhook's own download URL has expired when ferry gets to it
    (ferry was down): a 404, a fresh URL from GET /{media-id}, the file."""
    b = make_bridge()
    c = b.client()
    b.kill_ferry()
    b.config(media_url_ttl=1)
    data = os.urandom(5000)
    r = b.inbound(CONTACT, type="image", name="Ana", with_url=True,
                  data_b64=base64.b64encode(data).decode(), wait="none")
    wamid, media_id = r["wamids"][0], r["media_ids"][0]
    time.sleep(1.5)          # the URL's lifetime, on the fake's clock
    b.config(media_url_ttl=300)
    b.start_ferry()
    m, url = _wait_file(b, c, wamid, timeout=40)
    assert _fetch(url)[1] == data
    downloads = b.requests("/whatsapp_business/attachments", "GET")
    assert [d["status"] for d in downloads] == [404, 200], downloads
    infos = b.requests("/" + media_id, "GET")
    assert len(infos) == 1, infos
    assert infos[0]["headers"].get("Authorization") == "Bearer " + b.token


def test_inbound_too_big_becomes_a_notice(make_bridge):
    b = make_bridge(media_max_size=4000)
    c = b.client()
    r = b.inbound(CONTACT, type="image", name="Ana", caption="big one",
                  data_b64=base64.b64encode(os.urandom(6000)).decode())
    wamid = r["wamids"][0]
    m = b.wait_chat(c, wamid)
    assert _oob(m) is None, m.xml
    assert m.body.startswith("[A picture from WhatsApp could not be passed "
                             "on"), m.body
    assert "larger than" in m.body and "4000 bytes" in m.body, m.body
    cap = b.wait_chat(c, wamid + "-caption")
    assert cap.body == "big one"
    # it was refused from the size in the media info: never downloaded
    assert b.requests("/whatsapp_business/attachments", "GET") == []


def test_inbound_over_whatsapp_type_limit_becomes_a_notice(bridge):
    # WhatsApp's own limit for stickers (500 KB), under media.max_size
    c = bridge.client()
    r = bridge.inbound(CONTACT, type="sticker", name="Ana",
                       data_b64=base64.b64encode(
                           os.urandom(600 * 1024)).decode())
    m = bridge.wait_chat(c, r["wamids"][0])
    assert m.body.startswith("[A sticker from WhatsApp could not be passed"), \
        m.body
    assert "500 KB" in m.body, m.body


def test_inbound_unknown_media_id_becomes_a_notice(bridge):
    c = bridge.client()
    r = bridge.inbound(CONTACT, type="document", name="Ana",
                       filename="gone.pdf",
                       extra={"document": {"id": "999000111", "filename":
                                           "gone.pdf",
                                           "mime_type": "application/pdf"}})
    m = bridge.wait_chat(c, r["wamids"][0])
    assert m.body.startswith("[A document (gone.pdf) from WhatsApp could "
                             "not be passed on"), m.body
    assert "7 days" in m.body, m.body


def test_kill_during_inbound_fetch_delivers_after_restart(make_bridge):
    b = make_bridge(fake_config={"slow_ms": 5000})
    c = b.client()
    data = os.urandom(10000)
    r = b.inbound(CONTACT, type="image", name="Ana", caption="survives",
                  data_b64=base64.b64encode(data).decode())
    wamid, media_id = r["wamids"][0], r["media_ids"][0]
    # the webhook is stored (200); the fetch is in flight when ferry dies
    wait_for(lambda: b.requests("/" + media_id, "GET"), WAIT, 0.05,
             "the media info request")
    b.kill_ferry()
    b.config(slow_ms=0)
    b.start_ferry()
    m, url = _wait_file(b, c, wamid, timeout=40)
    assert _fetch(url)[1] == data
    assert b.wait_chat(c, wamid + "-caption").body == "survives"
    assert b.count("outbox") == 0


def test_served_files_expire(make_bridge):
    b = make_bridge(media_expiry=2)
    c = b.client()
    r = b.inbound(CONTACT, type="image", name="Ana",
                  data_b64=base64.b64encode(os.urandom(1000)).decode())
    m, url = _wait_file(b, c, r["wamids"][0])
    assert _fetch(url)[0] == 200
    assert len(_served_files(b)) == 1
    wait_for(lambda: _fetch(url)[0] == 404, 10, 0.2, "the link to expire")
    wait_for(lambda: _served_files(b) == [], 10, 0.2,
             "the expired file to be deleted")


# --- WhatsApp to XMPP, through the XMPP server's upload service -----------------

def test_inbound_through_upload_service(make_bridge, xmpp_server):
    b = make_bridge(media_upload_service=xmpp_server.upload_jid)
    c = b.client()
    data = os.urandom(20000)
    r = b.inbound(CONTACT, type="image", name="Ana", caption="via upload",
                  data_b64=base64.b64encode(data).decode())
    wamid = r["wamids"][0]
    m, url = _wait_file(b, c, wamid)
    assert url.startswith("http://127.0.0.1:%d/" % xmpp_server.http_port), \
        url
    status, body, headers = _fetch(url)
    assert (status, body) == (200, data), status
    assert b.wait_chat(c, wamid + "-caption").body == "via upload"
    assert _served_files(b) == [], "served by ferry instead"
    assert not b.ferry.log_lines("serving the file from ferry instead")
    # a document with a name
    pdf = b"%PDF-1.4\n" + os.urandom(500)
    r = b.inbound(CONTACT, type="document", name="Ana", filename="plan.pdf",
                  mime_type="application/pdf",
                  data_b64=base64.b64encode(pdf).decode())
    m, url = _wait_file(b, c, r["wamids"][0])
    assert url.endswith("plan.pdf"), url
    assert _fetch(url)[1] == pdf
    # ferry now knows the service's host: a bare link to it is a file
    b.open_window(CONTACT)
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(700)
    get = _upload(c, xmpp_server, png, "shot.png", "image/png")
    b.send(c, CONTACT, get)
    sent = b.wait_sent(1, CONTACT)
    assert sent[0]["type"] == "image", sent
    assert _fake_bytes(b, sent[0]["payload"]["id"]) == png


def test_upload_service_refusal_falls_back_to_ferry(make_bridge,
                                                   xmpp_server):
    # both harness servers take at most 10 MiB; a 12 MB document is refused
    # by the service and served by ferry instead
    b = make_bridge(media_upload_service=xmpp_server.upload_jid)
    c = b.client()
    data = os.urandom(12 * 1024 * 1024)
    r = b.inbound(CONTACT, type="document", name="Ana", filename="big.pdf",
                  mime_type="application/pdf",
                  data_b64=base64.b64encode(data).decode())
    m, url = _wait_file(b, c, r["wamids"][0], timeout=40)
    assert url.startswith(b.ferry.url + "/media/"), url
    assert _fetch(url, timeout=30)[1] == data
    assert b.ferry.log_lines("serving the file from ferry instead")


# --- XMPP to WhatsApp -----------------------------------------------------------

def test_outbound_oob_image_uploaded_and_sent_by_id(bridge, xmpp_server):
    c = bridge.client()
    bridge.open_window(CONTACT)
    jpg = b"\xff\xd8\xff\xe0" + os.urandom(3000)
    url = _upload(c, xmpp_server, jpg, "holiday.jpg", "image/jpeg")
    mid = _send_file(bridge, c, url, receipt=True)
    sent = bridge.wait_sent(1, CONTACT)
    s = sent[0]
    assert s["type"] == "image", s
    assert set(s["payload"]) == {"id"}, s["payload"]   # no caption
    assert _fake_bytes(bridge, s["payload"]["id"]) == jpg
    ups = bridge.requests("/%s/media" % bridge.pnid, "POST")
    assert len(ups) == 1 and ups[0]["status"] == 200, ups
    form = ups[0]["json"]
    assert form["messaging_product"] == "whatsapp", form
    assert form["type"] == "image/jpeg", form
    assert form["file"]["content_type"] == "image/jpeg", form
    assert ups[0]["headers"]["Authorization"] == "Bearer " + bridge.token
    bridge.wait_receipt(c, mid)
    # with a caption (a body that is not the URL), as a reply, a document
    pdf = b"%PDF-1.4\n" + os.urandom(1000)
    url = _upload(c, xmpp_server, pdf, "minutes.pdf", "application/pdf")
    _send_file(bridge, c, url, caption="the minutes")
    sent = bridge.wait_sent(2, CONTACT)
    s = sent[1]
    assert s["type"] == "document", s
    assert s["payload"].get("caption") == "the minutes", s
    assert s["payload"].get("filename") == "minutes.pdf", s
    assert _fake_bytes(bridge, s["payload"]["id"]) == pdf


def test_outbound_audio_caption_goes_apart_and_order_is_kept(bridge,
                                                             xmpp_server):
    c = bridge.client()
    bridge.open_window(CONTACT)
    ogg = b"OggS" + os.urandom(900)
    url = _upload(c, xmpp_server, ogg, "note.ogg", "audio/ogg")
    _send_file(bridge, c, url, caption="listen")
    bridge.send(c, CONTACT, "after the file")
    sent = bridge.wait_sent(3, CONTACT)
    assert [s["type"] for s in sent] == ["audio", "text", "text"], sent
    assert "caption" not in sent[0]["payload"], sent[0]
    bodies = [s["payload"].get("body") for s in sent[1:]]
    assert sorted(bodies) == ["after the file", "listen"], bodies


def test_outbound_url_into_ferrys_network_refused(make_bridge, xmpp_server):
    """A link a user shares may not make ferry read its own network: with
    no trusted hosts, a file on a loopback address (here ferry's own
    /metrics, and the server's upload service) is refused, and nothing is
    uploaded to WhatsApp."""
    b = make_bridge(media_trusted_hosts="")
    c = b.client()
    b.open_window(CONTACT)
    for url in (b.ferry.url + "/metrics",
                _upload(c, xmpp_server, b"\xff\xd8\xff\xe0" + os.urandom(99),
                        "p.jpg", "image/jpeg")):
        mid = _send_file(b, c, url)
        e = b.wait_error(c, mid)
        assert "own network" in error_text(e), e.xml
    assert not b.requests(path_contains="/media"), b.requests()
    assert b.ferry.wait_log(r"refusing to connect to an internal address")


def test_outbound_unsupported_type_bounces(bridge, xmpp_server):
    c = bridge.client()
    bridge.open_window(CONTACT)
    url = _upload(c, xmpp_server, b"PK\x03\x04" + os.urandom(500),
                  "archive.zip", "application/zip")
    mid = _send_file(bridge, c, url)
    e = bridge.wait_error(c, mid)
    assert "does not take files of type application/zip" in error_text(e), \
        e.xml
    assert "pictures" in error_text(e), e.xml
    # a picture over WhatsApp's 5 MB for pictures (the service takes 10 MiB)
    big = b"\xff\xd8\xff\xe0" + os.urandom(6 * 1024 * 1024)
    url = _upload(c, xmpp_server, big, "huge.jpg", "image/jpeg")
    mid = _send_file(bridge, c, url)
    e = bridge.wait_error(c, mid, timeout=40)
    assert "larger than WhatsApp takes for pictures (5 MB)" in \
        error_text(e), e.xml
    # a link that does not answer with the file
    mid = _send_file(bridge, c, xmpp_server.upload_url + "/nothing/here.jpg")
    e = bridge.wait_error(c, mid)
    assert "could not download the file (HTTP 404)" in error_text(e), e.xml
    # OMEMO-encrypted files
    mid = _send_file(bridge, c, "aesgcm://example.test/x/y.jpg#abcdef")
    e = bridge.wait_error(c, mid)
    assert "end-to-end encrypted" in error_text(e), e.xml
    assert bridge.sent(CONTACT) == []
    assert bridge.requests("/%s/media" % bridge.pnid, "POST") == []


def test_plain_link_elsewhere_is_text(bridge):
    c = bridge.client()
    bridge.open_window(CONTACT2)
    bridge.send(c, CONTACT2, "https://example.org/picture.jpg")
    sent = bridge.wait_sent(1, CONTACT2)
    assert sent[0]["type"] == "text", sent
    assert sent[0]["payload"]["body"] == "https://example.org/picture.jpg"
