# SPDX-License-Identifier: MIT
"""Message templates with a header and buttons, and what becomes of a
template once sent (issue 16; docs/behaviour.md "Teams"): /template takes
header=<text or link> and button<n>=<value> besides the body's
parameters, checks every count against the template's definition (from
the business account's list) before anything reaches WhatsApp, and the
statuses WhatsApp reports for a template reach the member who sent it like
those of any message. Real clients on Prosody and ejabberd."""

from harness.network import error_text, is_displayed, is_receipt
from test_team import CONTACT, name_of, said, team_of

RECEIPT = {
    "name": "order_receipt", "language": "en_US", "category": "UTILITY",
    "components": [
        {"type": "HEADER", "format": "DOCUMENT"},
        {"type": "BODY", "text": "Thanks {{1}}, here is order {{2}}."},
        {"type": "BUTTONS", "buttons": [
            {"type": "URL", "text": "Track",
             "url": "https://shop.example/t/{{1}}"},
            {"type": "QUICK_REPLY", "text": "Stop updates"}]}]}
GREETING = {
    "name": "greeting", "language": "en_US", "category": "MARKETING",
    "parameter_format": "NAMED",
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Hi {{first_name}}!"},
        {"type": "BODY", "text": "Your code {{code}} is ready."},
        {"type": "BUTTONS", "buttons": [
            {"type": "COPY_CODE", "example": "SAVE10"}]}]}
LOCATED = {
    "name": "store_location", "language": "en_US", "category": "UTILITY",
    "components": [{"type": "HEADER", "format": "LOCATION"},
                   {"type": "BODY", "text": "Visit us."}]}
PROMO = {
    "name": "promo", "language": "en_US", "category": "MARKETING",
    "components": [{"type": "BODY", "text": "Sale today!"}]}
PLAIN = {
    "name": "plain_notice", "language": "en_US", "category": "UTILITY",
    "components": [{"type": "BODY", "text": "We are open again."}]}


def with_templates(bridge, *templates):
    """The number's business account has templates; a customer (whose
    webhook names the business account) wrote; returns the contact JID."""
    bridge.ctl.post("templates", {"pnid": bridge.pnid,
                                  "templates": list(templates),
                                  "replace": True})
    return bridge.contact_jid(CONTACT)


def test_template_header_and_buttons(bridge):
    cj = with_templates(bridge, RECEIPT, GREETING, PLAIN, LOCATED)
    owner, (bob,) = team_of(bridge, 1)
    wamid = bridge.inbound_text(CONTACT, "where is my order?", name="Ana")
    bridge.wait_chat(bob, wamid)

    # the listing says what else than the body each template takes
    bridge.send(bob, CONTACT, "/templates")
    listing = said(bob, cj, "[template] 4 approved templates:").body
    assert ("order_receipt en_US (UTILITY, 2 parameters; header=<document "
            "link> button1=<end of the link> [button2=<payload>]): Thanks "
            "{{1}}, here is order {{2}}.") in listing, listing
    assert ("greeting en_US (MARKETING, 1 parameter; header=<text> "
            "button1=<code>)") in listing, listing
    assert "plain_notice en_US (UTILITY, 0 parameters): We" in listing
    assert ("store_location en_US (UTILITY, 0 parameters; a location "
            "header, not sendable from here): Visit us.") in listing

    # wrong counts and shapes are refused before anything is sent
    link = "https://files.example/r/receipt.pdf"
    refused = [
        ("/template order_receipt Ana 860198 button1=860198",
         "order_receipt needs its header: header=<document link>"),
        ("/template order_receipt header=%s Ana button1=860198" % link,
         "order_receipt takes 2 body parameters, not 1"),
        ("/template order_receipt header=%s Ana 860198" % link,
         'button 1 of order_receipt (url "Track") needs its parameter: '
         "button1=<end of the link>"),
        ("/template order_receipt header=%s Ana 860198 button1=1 button3=x"
         % link, "order_receipt has 2 buttons, not 3"),
        ("/template order_receipt header=receipt.pdf Ana 860198 button1=1",
         "header= takes the document's https link"),
        ("/template plain_notice header=Hello", "plain_notice has no header "
         "parameter"),
        ("/template order_receipt header= Ana 860198 button1=1",
         "header= has no value"),
        ("/template order_receipt header=%s Ana 860198 button1=" % link,
         "button1= has no value"),
        ("/template store_location", "store_location has a location header, "
         "which cannot be given from here"),
        ("/template greeting header=Ana", "greeting takes 1 body parameter, "
         "not 0"),
        ("/template greeting header=Ana SAVE10", 'button 1 of greeting '
         '(copy_code "") needs its parameter: button1=<code>'),
    ]
    for command, why in refused:
        bridge.send(bob, CONTACT, command)
        r = said(bob, cj, "[template] Not sent: ").body
        assert r.startswith("[template] Not sent: " + why), (command, r)
        assert "Usage: /template " in r, r
    assert bridge.message_posts() == [], bridge.message_posts()

    # a header= in quotes is a body parameter
    bridge.send(bob, CONTACT, '/template plain_notice "header=x"')
    r = said(bob, cj, "[template] Not sent: ").body
    assert "plain_notice takes 0 body parameters, not 1" in r, r

    # a document header, a URL button's variable and a quick reply's
    # payload: sent once, as Meta's template send has them
    bridge.send(bob, CONTACT, "/template order_receipt en_US header=%s Ana "
                "860198 button1=860198 button2=STOP_UPDATES" % link)
    sent = bridge.wait_sent(1, CONTACT)
    tpl = sent[0]["template"]
    assert tpl["header"] == {"document": {"link": link,
                                          "filename": "receipt.pdf"}}, tpl
    assert tpl["buttons"] == [
        {"type": "URL", "text": "Track",
         "url": "https://shop.example/t/860198"},
        {"type": "QUICK_REPLY", "text": "Stop updates",
         "payload": "STOP_UPDATES"}], tpl
    comps = sent[0]["payload"]["components"]
    assert [c["type"] for c in comps] == ["header", "body", "button",
                                          "button"], comps
    assert comps[2]["sub_type"] == "url" and comps[2]["index"] == "0"
    assert comps[3]["sub_type"] == "quick_reply" and comps[3]["index"] == "1"
    rendered = ("[document] %s\nThanks Ana, here is order 860198.\n"
                "[Track | Stop updates]" % link)
    r = said(bob, cj, "[template] Sent: ").body
    assert r == "[template] Sent: " + rendered, r
    copy = said(owner, cj, "%s: [document]" % name_of(bob))
    assert copy.body == "%s: %s" % (name_of(bob), rendered), copy.body

    # a named text header and a copy-code button
    bridge.send(bob, CONTACT, "/template greeting header=Ana SAVE10 "
                "button1=SAVE10")
    sent = bridge.wait_sent(2, CONTACT)
    assert sent[1]["rendered"] == "Hi Ana!\nYour code SAVE10 is ready.", sent
    header = sent[1]["payload"]["components"][0]
    assert header["parameters"] == [{"type": "text", "text": "Ana",
                                     "parameter_name": "first_name"}], header
    assert sent[1]["template"]["buttons"][0]["coupon_code"] == "SAVE10"
    said(bob, cj, "[template] Sent: Hi Ana!\nYour code SAVE10 is ready.")
    assert len(bridge.message_posts()) == 2


def test_template_statuses_reach_the_writer(bridge):
    """sent, delivered and read of a template go to the member who sent it
    as XEP-0184 receipt and XEP-0333 displayed marker on the command's
    stanza (also when they come before the send's answer); failed comes
    back as an error in words with WhatsApp's code. Nobody else of the
    team gets them."""
    cj = with_templates(bridge, PLAIN, RECEIPT, PROMO)
    owner, (bob, amy) = team_of(bridge)
    wamid = bridge.inbound_text(CONTACT, "hello", name="Ana")
    for c in (owner, bob, amy):
        bridge.wait_chat(c, wamid)

    # delivered and read (the fake's statuses after every accepted send)
    mid = bridge.send(bob, CONTACT, "/template plain_notice", receipt=True,
                      markable=True)
    said(bob, cj, "[template] Sent: We are open again.")
    bridge.wait_receipt(bob, mid)
    bridge.wait_displayed(bob, mid)
    # the same when WhatsApp's statuses come before its answer to the send
    bridge.config(early_statuses=True)
    mid2 = bridge.send(amy, CONTACT, "/template plain_notice", receipt=True,
                       markable=True)
    bridge.wait_receipt(amy, mid2)
    bridge.wait_displayed(amy, mid2)
    said(amy, cj, "[template] Sent: We are open again.")
    bridge.config(early_statuses=False)
    for c, other in ((owner, mid), (owner, mid2), (amy, mid), (bob, mid2)):
        bridge.flush(c)
        c.assert_no_message(lambda m: is_receipt(m, other) or is_displayed(
            m, other), timeout=0.3)

    # failed after sent: an error on the command's stanza, in words
    bridge.config(number_statuses={CONTACT: "sent"})
    link = "https://files.example/r/receipt.pdf"
    for code, words in (
            (132001, "This template does not exist in this language"),
            (131047, "has not written to you in the last 24 hours"),
            (132015, "This template is paused for low quality"),
            (131049, "the customer has had as many as WhatsApp allows")):
        since = bridge.seq()
        mid = bridge.send(bob, CONTACT, "/template order_receipt header=%s "
                          "Ana 42 button1=42" % link, receipt=True)
        said(bob, cj, "[template] Sent: [document]")
        wamid = bridge.wait_sent(1, CONTACT, since=since)[0]["wamid"]
        bridge.status(wamid, "failed", error=code)
        err = bridge.wait_error(bob, mid)
        text = error_text(err)
        assert words in text and "(WhatsApp error %d)" % code in text, text
    # WhatsApp's own: a marketing template the customer no longer takes
    bridge.config(marketing_blocked={CONTACT: 131050})
    mid = bridge.send(amy, CONTACT, "/template promo", receipt=True)
    said(amy, cj, "[template] Sent: Sale today!")
    text = error_text(bridge.wait_error(amy, mid))
    assert text == ("The customer has stopped marketing messages from this "
                    "number (WhatsApp error 131050)"), text
    bridge.flush(amy)
    amy.assert_no_message(lambda m: m.type == "error", timeout=0.3)
    bridge.flush(bob)
    bob.assert_no_message(lambda m: m.type == "error", timeout=0.3)
