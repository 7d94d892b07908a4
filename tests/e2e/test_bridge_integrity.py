# SPDX-License-Identifier: MIT
"""Nothing lost, nothing twice, in order (issue 11, points 4, 9, 11 and
12(d); docs/behaviour.md): an audio file's caption goes exactly once
whatever the retries, and only once the file went; a store that cannot
write makes the webhook answer 500 (Meta delivers again, and that delivery
is not dropped as a duplicate) and bounces a user's message with an error;
accounts of a domain no longer allowed are refused, not deleted; a text
written after a picture reaches the user after the picture.  Every test
runs against Prosody and ejabberd."""

import os

from harness.network import error_text
from test_media import CONTACT, _send_file, _upload


# --- point 4: a caption apart from its file goes exactly once ------------------

def _audio(bridge, c, xmpp_server):
    ogg = b"OggS" + os.urandom(900)
    return _upload(c, xmpp_server, ogg, "note.ogg", "audio/ogg")


def test_audio_caption_sent_once_whatever_the_retries(bridge, xmpp_server):
    """Two transient errors (131000) on the audio's send: three uploads,
    one audio message, and the caption once, after it."""
    c = bridge.client()
    bridge.open_window(CONTACT)
    url = _audio(bridge, c, xmpp_server)
    bridge.fail(131000, count=2)
    _send_file(bridge, c, url, caption="listen")
    sent = bridge.wait_sent(2, CONTACT, timeout=30)
    bridge.send(c, CONTACT, "after the file")
    sent = bridge.wait_sent(3, CONTACT)
    bridge.idle()
    sent = bridge.sent(CONTACT)
    assert [s["type"] for s in sent] == ["audio", "text", "text"], sent
    assert [s["payload"].get("body") for s in sent[1:]] == \
        ["listen", "after the file"], sent
    assert len(bridge.requests("/%s/media" % bridge.pnid, "POST")) == 3


def test_audio_caption_folded_into_the_bounce(bridge, xmpp_server):
    """The audio fails for good: no caption reaches WhatsApp, and the
    bounce names it."""
    c = bridge.client()
    bridge.open_window(CONTACT)
    url = _audio(bridge, c, xmpp_server)
    bridge.fail(100)
    mid = _send_file(bridge, c, url, caption="listen to this")
    e = bridge.wait_error(c, mid)
    assert 'caption "listen to this" was not sent' in error_text(e), e.xml
    bridge.send(c, CONTACT, "next")
    sent = bridge.wait_sent(1, CONTACT)
    assert [s["payload"].get("body") for s in sent] == ["next"], sent
