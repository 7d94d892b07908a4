#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""contrib/dev-team.py: for contrib/dev-run.sh, an XMPP client that logs in
as the owner, registers the sandbox business number through the gateway's
chat commands and adds a member to its team, so that `contrib/dev.sh run`
can print two logins of one team.

    dev-team.py HOST PORT OWNER_JID PASSWORD GATEWAY PNID TOKEN MEMBER_JID

Exits 0 once the gateway said the member was added, 1 otherwise (the
gateway's answers are printed)."""

import asyncio
import sys

import slixmpp

STEPS = [("register cloudapi {pnid} {token}", "Registered: "),
         ("team add {member}", "is now a member")]


class Owner(slixmpp.ClientXMPP):
    def __init__(self, args):
        self.host, self.port, jid, password, self.gw, pnid, token, \
            member = args
        super().__init__(jid, password)
        self["feature_mechanisms"].unencrypted_plain = True
        self.steps = [(t.format(pnid=pnid, token=token, member=member), want)
                      for t, want in STEPS]
        self.done = asyncio.get_event_loop().create_future()
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("message", self.answer)

    def start(self, _):
        self.send_presence()
        self.next_step()

    def next_step(self):
        if not self.steps:
            self.done.set_result(0)
            return
        text = self.steps[0][0]
        self.send_message(mto=self.gw, mbody=text, mtype="chat")

    def answer(self, msg):
        if msg["from"].bare != self.gw or not msg["body"] or \
                self.done.done() or not self.steps:
            return
        print("dev-team: %s" % msg["body"].splitlines()[0], file=sys.stderr)
        if self.steps[0][1] in msg["body"]:
            self.steps.pop(0)
            self.next_step()
        elif msg["type"] == "error":
            self.done.set_result(1)


def main(args):
    if len(args) != 8:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    x = Owner(args)
    x.connect(address=(x.host, int(x.port)), use_ssl=False,
              force_starttls=False, disable_starttls=True)
    loop = asyncio.get_event_loop()
    try:
        rc = loop.run_until_complete(asyncio.wait_for(x.done, 20))
    except asyncio.TimeoutError:
        print("dev-team: no answer from %s" % x.gw, file=sys.stderr)
        rc = 1
    x.disconnect()
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
