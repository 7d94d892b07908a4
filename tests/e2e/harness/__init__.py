# SPDX-License-Identifier: MIT
"""Helpers for ferry's end-to-end tests: real XMPP servers, slixmpp clients
and the ferry daemon itself.  See tests/e2e/README.md."""
