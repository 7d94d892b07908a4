# SPDX-License-Identifier: MIT
"""contrib/nginx-ferry.conf in front of ferry (issue 11, "Also fix").

The sample is used as shipped, with only what a deployment changes
rewritten: the listen addresses (free loopback ports), the certificate (a
self-signed one made with openssl in the test's directory) and ferry's
port.  nginx runs in the foreground with a generated main config that
includes it.  Through it: a signed webhook is accepted byte for byte (the
signature covers the raw bytes), /metrics and /health are refused, and a
file ferry serves itself is fetched under /media/ (GET and HEAD; POST is
refused).  Needs the Debian package nginx (contrib/dev.sh installs it); a
missing nginx fails the test rather than skipping it.
"""

import os
import re
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
import base64

import pytest

from test_bad_input import sign, text_body
from harness.util import free_port, wait_for

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SAMPLE = os.path.join(TOP, "contrib", "nginx-ferry.conf")
CONTACT = "4915100000411"


def nginx_binary():
    path = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    assert path, "nginx is not installed (apt-get install nginx, or " \
        "contrib/dev.sh deps): the proxy sample cannot be tested"
    return path


def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=30)
    return cert, key


def site_config(https_port, http_port, ferry_port, cert, key):
    """The sample with a deployment's values replaced; every replacement
    must hit, so a changed sample fails here rather than being skipped."""
    with open(SAMPLE) as f:
        text = f.read()
    subs = [
        (r"listen 443 ssl http2;", "listen 127.0.0.1:%d ssl http2;"
         % https_port),
        (r"listen 80;", "listen 127.0.0.1:%d;" % http_port),
        (r"\n\s*listen \[::\]:\d+[^;]*;", ""),
        (r"ssl_certificate /etc/letsencrypt/\S+;", "ssl_certificate %s;"
         % cert),
        (r"ssl_certificate_key /etc/letsencrypt/\S+;",
         "ssl_certificate_key %s;" % key),
        (r"127\.0\.0\.1:8480", "127.0.0.1:%d" % ferry_port),
    ]
    for pattern, repl in subs:
        text, n = re.subn(pattern, repl, text)
        assert n > 0, "contrib/nginx-ferry.conf: no %r" % pattern
    return text


def main_config(d, site):
    temp = "".join("    %s_temp_path %s;\n" % (k, os.path.join(d, k))
                   for k in ("client_body", "proxy", "fastcgi", "uwsgi",
                             "scgi"))
    return ("%sworker_processes 1;\ndaemon off;\npid %s;\n"
            "error_log %s info;\nevents { worker_connections 64; }\n"
            "http {\n    access_log %s;\n%s    include %s;\n}\n" % (
                "user root root;\n" if os.geteuid() == 0 else "",
                os.path.join(d, "nginx.pid"),
                os.path.join(d, "error.log"), os.path.join(d, "access.log"),
                temp, site))


class Nginx:
    def __init__(self, d, ferry_port, https_port):
        self.dir = d
        self.https_port = https_port
        self.binary = nginx_binary()
        self.cert, key = make_cert(d)
        site = os.path.join(d, "ferry-site.conf")
        with open(site, "w") as f:
            f.write(site_config(https_port, free_port(), ferry_port,
                                self.cert, key))
        self.conf = os.path.join(d, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(main_config(d, site))
        self.argv = [self.binary, "-p", d, "-e", os.path.join(d, "error.log"),
                     "-c", self.conf]
        t = subprocess.run(self.argv + ["-t"], capture_output=True,
                           text=True, timeout=30)
        assert t.returncode == 0, "nginx -t: %s" % t.stderr
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.ctx = ssl.create_default_context(cafile=self.cert)
        wait_for(lambda: self.request("/")[0] is not None, timeout=10,
                 what="nginx answering on port %d" % https_port)

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.https_port, path)

    def request(self, path, method="GET", body=None, headers=None):
        """(status, body bytes) through nginx; (None, None) if nothing
        answers."""
        req = urllib.request.Request(self.url(path), data=body,
                                     method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10,
                                        context=self.ctx) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except (urllib.error.URLError, OSError):
            return None, None

    def log(self):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def proxied(make_bridge, tmp_path):
    """(bridge, nginx): ferry behind the sample, public_url = nginx."""
    https_port = free_port()
    b = make_bridge(start=False,
                    http_public_url="https://127.0.0.1:%d" % https_port,
                    http_max_conn_per_ip=0)
    ngx = Nginx(str(tmp_path), b.ferry.http_port, https_port)
    try:
        b.ferry.start(timeout=20)
        yield b, ngx
    finally:
        ngx.stop()
        print("--- nginx error.log ---\n" + ngx.log())


def test_nginx_sample_in_front_of_ferry(proxied):
    bridge, ngx = proxied
    c = bridge.client()
    # a webhook whose bytes any re-encoding would change: escapes, non-ASCII
    # as \\u, a trailing newline
    text = "through nginx: caf\u00e9 \u2603 \"quoted\" \\ back"
    wamid, raw = text_body(CONTACT, text)
    raw = (raw + "\n").encode()
    headers = {"Content-Type": "application/json",
               "X-Hub-Signature-256": sign(raw, bridge.app_secret)}
    st, body = ngx.request("/webhook/cloudapi", "POST", raw, headers)
    assert st == 200, "signed webhook through nginx: %s %r" % (st, body)
    m = bridge.wait_chat(c, wamid)
    assert m.body == text, m.xml
    # a body nginx changed would fail the signature: a wrong one is 403
    headers["X-Hub-Signature-256"] = sign(raw + b" ", bridge.app_secret)
    assert ngx.request("/webhook/cloudapi", "POST", raw, headers)[0] == 403
    # monitoring stays on the loopback address
    for path in ("/metrics", "/health"):
        st, _ = ngx.request(path)
        assert st == 404, "%s through nginx: %s" % (path, st)
        assert bridge.ferry.health()[0] == 200
    # a file ferry serves itself, at the URL the user was given
    data = bytes(range(256)) * 64
    r = bridge.inbound(CONTACT, type="image", name="Ana",
                       data_b64=base64.b64encode(data).decode())
    m = bridge.wait_chat(c, r["wamids"][0])
    url = m.body
    assert url.startswith(ngx.url("/media/")), url
    path = url[len(ngx.url("")):]
    st, got = ngx.request(path)
    assert st == 200 and got == data, "GET %s through nginx: %s" % (path, st)
    st, got = ngx.request(path, "HEAD")
    assert st == 200 and got == b"", "HEAD through nginx: %s" % st
    st, _ = ngx.request(path, "POST", b"x")
    assert st == 403, "POST to /media/ through nginx: %s" % st
