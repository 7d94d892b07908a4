# SPDX-License-Identifier: MIT
"""Contacts' profile pictures and availability for WAHA users (issue 13,
item 5): the picture from GET /api/contacts/profile-picture as an XEP-0153
hash in the contact's presence and a vCard (XEP-0054) PHOTO, asked for once
(not at every vCard request); presence.update online/offline as available
or away with an XEP-0319 idle time.  Every test runs against Prosody and
ejabberd, with the fake WAHA (tests/fakes/fake_waha.py)."""

import base64
import hashlib
import time

import pytest

from harness.network import WAIT
from harness.util import wait_for
from test_waha_groups import _login as _login_with_groups

CONTACT = "4915112345678"
BARE = "4915199999999"
NS_UPDATE = "vcard-temp:x:update"
NS_VCARD = "vcard-temp"
NS_IDLE = "urn:xmpp:idle:1"
NS_CLIENT = "jabber:client"


@pytest.fixture
def gw(waha):
    return waha


def _photo(p):
    """The XEP-0153 photo of a presence: None (no update element), "" (no
    picture) or the hash."""
    x = p.el.find("{%s}x" % NS_UPDATE)
    if x is None:
        return None
    ph = x.find("{%s}photo" % NS_UPDATE)
    return None if ph is None else (ph.text or "")


def _available_from(c, jid, pred=lambda p: True):
    return c.wait_presence(lambda p: p.frm and p.frm.startswith(jid)
                           and p.type in (None, "available") and pred(p),
                           timeout=WAIT)


def _picture_asks(gw, phone):
    return [r for r in gw.get("requests",
                              path_contains="/api/contacts/profile-picture")
            if r["query"].get("contactId") == phone + "@c.us"]


def _vcard(c, jid):
    reply = c.iq(jid, "<vCard xmlns='%s'/>" % NS_VCARD)
    assert reply.type == "result", reply.xml
    return reply.el.find("{%s}vCard" % NS_VCARD)


def test_contact_picture_in_presence_and_vcard(gw):
    gw.ctl.post("contact", {"phone": CONTACT, "picture": True,
                            "push_name": "Ana"})
    c = gw.connect()
    gw.login(c)
    cj = gw.contact_jid(CONTACT)
    c.send_presence(to=cj, ptype="subscribe")
    p = _available_from(c, cj, lambda p: _photo(p))
    digest = _photo(p)
    assert len(digest) == 40, p.xml
    v = _vcard(c, cj)
    binval = v.findtext("{%s}PHOTO/{%s}BINVAL" % (NS_VCARD, NS_VCARD))
    assert binval, v
    data = base64.b64decode(binval)
    assert hashlib.sha1(data).hexdigest() == digest
    assert v.findtext("{%s}PHOTO/{%s}TYPE" % (NS_VCARD, NS_VCARD)) == \
        "image/png"
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # asked once: a second vCard request is answered from the store
    _vcard(c, cj)
    time.sleep(1)
    asks = _picture_asks(gw, CONTACT)
    assert len(asks) == 1, asks


def test_contact_without_picture_says_so(gw):
    gw.ctl.post("contact", {"phone": BARE, "picture": False})
    c = gw.connect()
    gw.login(c)
    cj = gw.contact_jid(BARE)
    c.send_presence(to=cj, ptype="subscribe")
    _available_from(c, cj, lambda p: _photo(p) == "")
    v = _vcard(c, cj)
    assert v.find("{%s}PHOTO" % NS_VCARD) is None
    assert v.findtext("{%s}FN" % NS_VCARD)


def test_vcard_of_someone_elses_contact_is_refused(gw):
    gw.ctl.post("contact", {"phone": CONTACT, "picture": True})
    owner = gw.connect()
    gw.login(owner)
    cj = gw.contact_jid(CONTACT)
    owner.send_presence(to=cj, ptype="subscribe")
    _available_from(owner, cj, lambda p: _photo(p))
    stranger = gw.connect()
    reply = stranger.iq(cj, "<vCard xmlns='%s'/>" % NS_VCARD)
    assert reply.type == "error", reply.xml
    assert reply.error[1] == "item-not-found", reply.xml
    assert "BINVAL" not in reply.xml


def test_online_offline_and_last_seen(gw):
    c = gw.connect()
    session = gw.login(c)
    cj = gw.contact_jid(CONTACT)
    c.send_presence(to=cj, ptype="subscribe")
    _available_from(c, cj)
    # asking for the picture subscribed the session to the contact's
    # presence: WAHA now sends presence.update for the chat
    wait_for(lambda: CONTACT + "@c.us" in
             gw.ctl.get("state")["sessions"][0]["subscribed"],
             WAIT, 0.1, "the presence subscription")
    seen = int(time.time()) - 3600
    c.presences.clear()
    gw.ctl.post("presence", {"session": session, "from": CONTACT,
                             "presence": "offline", "last_seen": seen})
    p = _available_from(c, cj, lambda p: p.el.findtext(
        "{%s}show" % NS_CLIENT) == "away")
    idle = p.el.find("{%s}idle" % NS_IDLE)
    assert idle is not None, p.xml
    assert idle.get("since") == time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                              time.gmtime(seen)), p.xml
    # a probe gets the same
    c.presences.clear()
    c.send_presence(to=cj, ptype="probe")
    p = _available_from(c, cj)
    assert p.el.findtext("{%s}show" % NS_CLIENT) == "away", p.xml
    # back online: available, no idle time
    c.presences.clear()
    gw.ctl.post("presence", {"session": session, "from": CONTACT,
                             "presence": "online"})
    p = _available_from(c, cj)
    assert p.el.find("{%s}show" % NS_CLIENT) is None, p.xml
    assert p.el.find("{%s}idle" % NS_IDLE) is None, p.xml


# --- a group's picture as its room's (XEP-0486) --------------------------

GROUP = "120363000000000001"
NS_INFO = "http://jabber.org/protocol/disco#info"


def _roominfo(c, room):
    reply = c.iq(room, "<query xmlns='%s'/>" % NS_INFO)
    assert reply.type == "result", reply.xml
    q = reply.el.find("{%s}query" % NS_INFO)
    fields = {}
    for f in q.iter("{jabber:x:data}field"):
        fields[f.get("var")] = f.findtext("{jabber:x:data}value")
    features = [f.get("var") for f in q.findall("{%s}feature" % NS_INFO)]
    return fields, features


def test_group_picture_is_the_rooms_vcard(make_waha):
    gw = make_waha(waha_config={"sandbox_groups": True})
    gw.ctl.post("contact", {"id": GROUP + "@g.us", "picture": True})
    c = _login_with_groups(gw)
    room = "%s@%s" % (GROUP, gw.gw)
    got = {}

    def hashed():
        fields, features = _roominfo(c, room)
        got.update(fields, features=features)
        return fields.get("muc#roominfo_avatarhash")
    wait_for(hashed, WAIT, 0.2, "the room's avatar hash in disco#info")
    assert "vcard-temp" in got["features"], got
    v = _vcard(c, room)
    assert v.findtext("{%s}FN" % NS_VCARD) == "ferry sandbox"
    data = base64.b64decode(v.findtext(
        "{%s}PHOTO/{%s}BINVAL" % (NS_VCARD, NS_VCARD)))
    assert hashlib.sha1(data).hexdigest() == got["muc#roominfo_avatarhash"]
    asks = gw.get("requests", path_contains="/picture")
    assert [r["path"] for r in asks if "/groups/" in r["path"]] == \
        ["/api/%s/groups/%s@g.us/picture" % (gw.session_of(c), GROUP)], asks
    # someone else's room: not found
    stranger = gw.connect()
    reply = stranger.iq(room, "<vCard xmlns='%s'/>" % NS_VCARD)
    assert reply.type == "error" and reply.error[1] == "item-not-found", \
        reply.xml
