#!/usr/bin/env python3
"""Fuzzes the live HTTP API against server/openapi.yaml with schemathesis.

Starts `latchkey serve --dev` on a free 127.0.0.1 port with a temporary data
folder, seeds a built-in user through the integrator API, runs schemathesis for a
bounded number of examples per operation with the checks that matter here (no 5xx,
every status, content type, header and body as the description says), stops the
server, and prints one closing line: `schemathesis: N passed, N failed`, counting
operations. Exits non-zero when an operation failed or nothing ran.

    scripts/api-fuzz.py [--latchkey PATH] [--max-examples N] [--seed N]

The `latchkey` binary defaults to $CARGO_TARGET_DIR (or target/)/debug/latchkey.
schemathesis is installed with pip from scripts/requirements-api-fuzz.txt.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "server" / "openapi.yaml"
REQUIREMENTS = ROOT / "scripts" / "requirements-api-fuzz.txt"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


def install():
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "--root-user-action=ignore", "-r", str(REQUIREMENTS)],
        check=True,
    )


def default_binary():
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "latchkey"


def start_server(binary, data):
    """`latchkey serve --dev` on port 0; returns the process and its base URL."""
    server = subprocess.Popen(
        [str(binary), "serve", "--dev", "--data", str(data), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 60
    for line in server.stdout:
        found = re.match(r"listening on (http://127\.0\.0\.1:\d+) ", line)
        if found:
            return server, found.group(1)
        if time.monotonic() > deadline:
            break
    server.kill()
    raise SystemExit("api-fuzz: the server did not say where it listens")


def call(base, path, body, token):
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def seed(base, token, config):
    """Users and sessions the generated requests name, so that they reach the
    ceremonies rather than stop at 404: `alice` (phone), `sam` (SMS codes), a
    session of each API; written into schemathesis' configuration file."""
    for username, factor in [("alice", "phone"), ("sam", "sms")]:
        call(base, "/v1/integrator/users", {
            "username": username, "password": "correct horse battery",
            "phone": "+85212345678", "email": f"{username}@example.com",
            "jurisdiction": "US", "second_factor": factor,
        }, token)
    integrator = call(base, "/v1/integrator/sessions", {"username": "sam"}, token)
    login = call(base, "/v1/login/sessions",
                 {"username": "sam", "password": "correct horse battery"}, token)
    config.write_text(f"""
[parameters]
"path.username" = "alice"
# Long-polls are the Rust tests' business: here a pending session would hold each
# generated request for up to 30 s.
"query.wait" = 0

[[operations]]
include-path-regex = "^/v1/integrator/sessions/"
parameters = {{ "path.session_id" = "{integrator['session_id']}" }}

[[operations]]
include-path-regex = "^/v1/login/sessions/"
parameters = {{ "path.session_id" = "{login['session_id']}" }}
""")


def counts(junit):
    passed = failed = 0
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is None:
            passed += 1
    return passed, failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latchkey", type=Path, default=default_binary())
    parser.add_argument("--max-examples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--no-install", action="store_true")
    args = parser.parse_args()
    if not args.latchkey.is_file():
        raise SystemExit(f"api-fuzz: no latchkey binary at {args.latchkey}")
    if not args.no_install:
        install()
    with tempfile.TemporaryDirectory(prefix="latchkey-api-fuzz-") as scratch:
        scratch = Path(scratch)
        server, base = start_server(args.latchkey, scratch / "data")
        try:
            token = (scratch / "data" / "integrator-token").read_text().strip()
            config = scratch / "schemathesis.toml"
            seed(base, token, config)
            junit = scratch / "junit.xml"
            run = subprocess.run(
                ["st", "--config-file", str(config), "run", str(SPEC), "--url", base, "--checks", CHECKS,
                 "--max-examples", str(args.max_examples), "--seed", str(args.seed),
                 "--phases", "examples,coverage,fuzzing", "--workers", "1",
                 "--request-timeout", "40", "--no-shrink",
                 "--header", f"Authorization: Bearer {token}",
                 "--report", "junit", "--report-junit-path", str(junit)],
                check=False,
                # schemathesis keeps a cache in its working folder: the scratch one.
                cwd=scratch,
            )
            passed, failed = counts(junit) if junit.exists() else (0, 1)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
    if run.returncode != 0 and failed == 0:
        failed = 1
    print(f"\nschemathesis: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
