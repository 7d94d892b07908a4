#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench_tls_sink: a Cloud API sink over TLS, speaking HTTP/2 when the
client offers it (ALPN), or HTTP/1.1 (keep-alive), or plain HTTP/1.1.

    bench_tls_sink.py [--cert CERT --key KEY [--h2]]

Prints READY <port>. Answers GET /{v}/{pnid} and POST /{v}/{pnid}/messages
like bench_sink; GET /_stats gives {"count", "handshakes", "h2"} (sends,
TLS connections that carried API requests, i.e. handshakes, of which
HTTP/2); POST /_reset zeroes them.
Python (asyncio, python3-h2), so it is slower than bench_sink: use it to
compare ferry's CPU per message between transports, not for rates.
"""

import argparse
import asyncio
import itertools
import json
import random
import ssl
import sys

import h2.config
import h2.connection
import h2.events

STATS = {"count": 0, "handshakes": 0, "h2": 0}
RUN = "%x" % random.getrandbits(48)  # wamids unique across runs and resets
IDS = itertools.count(1)


def route(method, path, body, conn):
    """(status, JSON body) for one request; conn: the connection's state
    (its TLS handshake is counted once it carries an API request, so the
    tools' control requests are not)."""
    if not path.startswith("/_") and conn.get("tls") and not conn["api"]:
        conn["api"] = True
        STATS["handshakes"] += 1
        STATS["h2"] += conn["h2"]
    if path == "/_stats":
        return 200, dict(STATS)
    if path == "/_reset":
        for k in STATS:
            STATS[k] = 0
        return 200, {}
    parts = path.split("?")[0].strip("/").split("/")
    if method == "POST" and len(parts) == 3 and parts[2] == "messages":
        req = json.loads(body or b"{}")
        if req.get("status") == "read":
            return 200, {"success": True}
        STATS["count"] += 1
        to = req.get("to", "")
        return 200, {"messaging_product": "whatsapp",
                     "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                     "messages": [{"id": "wamid.%s.%d" % (RUN, next(IDS))}]}
    if method == "GET" and len(parts) == 2:
        return 200, {"verified_name": "Bench", "id": parts[1],
                     "display_phone_number": "+1 555-" + parts[1][-7:],
                     "quality_rating": "GREEN"}
    return 404, {"error": {"message": "Unknown path", "code": 100}}


async def serve_h1(reader, writer, conn):
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        length = 0
        for ln in lines[1:]:
            if ln.lower().startswith("content-length:"):
                length = int(ln.split(":", 1)[1])
        body = await reader.readexactly(length) if length else b""
        status, js = route(method, path, body, conn)
        out = json.dumps(js).encode()
        writer.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % (status, len(out)) + out)
        await writer.drain()


async def serve_h2(reader, writer, conn):
    h2c = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=False))
    h2c.initiate_connection()
    writer.write(h2c.data_to_send())
    streams = {}
    while True:
        data = await reader.read(65536)
        if not data:
            return
        for ev in h2c.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                streams[ev.stream_id] = [dict(ev.headers), b""]
            elif isinstance(ev, h2.events.DataReceived):
                streams[ev.stream_id][1] += ev.data
                h2c.acknowledge_received_data(ev.flow_controlled_length,
                                               ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                hdrs, body = streams.pop(ev.stream_id)
                status, js = route(hdrs[b":method"].decode(),
                                   hdrs[b":path"].decode(), body, conn)
                out = json.dumps(js).encode()
                h2c.send_headers(ev.stream_id, [
                    (":status", str(status)),
                    ("content-type", "application/json"),
                    ("content-length", str(len(out)))])
                h2c.send_data(ev.stream_id, out, end_stream=True)
        writer.write(h2c.data_to_send())
        await writer.drain()


async def handle(reader, writer):
    sslobj = writer.get_extra_info("ssl_object")
    proto = sslobj.selected_alpn_protocol() if sslobj else None
    conn = {"tls": sslobj is not None, "h2": proto == "h2", "api": False}
    try:
        if proto == "h2":
            await serve_h2(reader, writer, conn)
        else:
            await serve_h1(reader, writer, conn)
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--h2", action="store_true")
    a = ap.parse_args()
    ctx = None
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        ctx.set_alpn_protocols(["h2", "http/1.1"] if a.h2 else ["http/1.1"])
    srv = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    print("READY %d" % srv.sockets[0].getsockname()[1], flush=True)
    await srv.serve_forever()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
