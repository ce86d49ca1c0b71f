"""A local HTTPS stand-in for the Microsoft identity platform and Microsoft Graph.

Serves, on one 127.0.0.1 port with a certificate from a throwaway trustme CA:

- ``GET  /<tenant>/v2.0/.well-known/openid-configuration`` (msal's tenant discovery)
- ``POST /<tenant>/oauth2/v2.0/token`` (client credentials; checks id, secret, grant, scope)
- ``POST /v1.0/users/<organizer>/onlineMeetings/createOrGet`` (checks the bearer token;
  createOrGet semantics keyed by externalId: 201 when created, 200 when it already existed)

A test scripts createOrGet's next answers with ``stub.script(...)``: ``Reply(429, retry_after=1)``,
``Reply(503)``, ``Reply(500)``, ``REVOKE_TOKEN`` (401 and the presented token is revoked, so only
a new token is accepted afterwards), ``Reply(403, graph_error=(code, message))``, ``Reply(404)``.
``stub.script_token(...)`` does the same for the token endpoint. Unscripted calls get the real
behaviour.
"""

from __future__ import annotations

import json
import secrets
import ssl
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import trustme

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


@dataclass(frozen=True)
class Reply:
    status: int
    retry_after: str | None = None
    graph_error: tuple[str, str] | None = None
    revoke_token: bool = False


REVOKE_TOKEN = Reply(401, graph_error=("InvalidAuthenticationToken", "Access token has expired."), revoke_token=True)


@dataclass
class GraphCall:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int = 0


@dataclass
class GraphStub:
    tenant: str = "stub-tenant"
    client_id: str = "stub-client-id"
    client_secret: str = "stub-client-secret"
    organizer: str = "11111111-2222-3333-4444-555555555555"
    token_requests: list[dict[str, str]] = field(default_factory=list)
    discovery_requests: int = 0
    graph_calls: list[GraphCall] = field(default_factory=list)
    meetings: dict[str, dict[str, Any]] = field(default_factory=dict)
    issued_tokens: list[str] = field(default_factory=list)
    revoked_tokens: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._script: deque[Reply] = deque()
        self._token_script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._ca = trustme.CA()
        self._tmp = tempfile.TemporaryDirectory(prefix="graph-stub-")
        self.ca_path = str(Path(self._tmp.name) / "stub-ca.pem")
        self._ca.cert_pem.write_to_path(self.ca_path)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.base_url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="graph-stub", daemon=True
        )

    # --- lifecycle ---
    def __enter__(self) -> GraphStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._tmp.cleanup()

    # --- what a test configures and reads ---
    @property
    def authority_host(self) -> str:
        return self.base_url

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/v1.0"

    def settings(self) -> dict[str, Any]:
        """The Django settings that point the Graph provider at this stub."""
        return {
            "MEETING_PROVIDER": "graph",
            "TEAMS_TENANT_ID": self.tenant,
            "TEAMS_CLIENT_ID": self.client_id,
            "TEAMS_CLIENT_SECRET": self.client_secret,
            "TEAMS_ORGANIZER_ID": self.organizer,
            "TEAMS_AUTHORITY_HOST": self.authority_host,
            "TEAMS_GRAPH_URL": self.graph_url,
            "TEAMS_CA_BUNDLE": self.ca_path,
        }

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def script_token(self, *replies: Reply) -> None:
        """The token endpoint's next answers (e.g. Reply(500) or Reply(503, retry_after="1"))."""
        with self._lock:
            self._token_script.extend(replies)

    def next_reply(self) -> Reply | None:
        with self._lock:
            return self._script.popleft() if self._script else None

    def next_token_reply(self) -> Reply | None:
        with self._lock:
            return self._token_script.popleft() if self._token_script else None

    def issue_token(self) -> str:
        token = f"stub-token-{len(self.issued_tokens) + 1}-{secrets.token_urlsafe(8)}"
        with self._lock:
            self.issued_tokens.append(token)
        return token


def _handler_for(stub: GraphStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Graph does

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _send_raw(self, status: int, data: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self) -> None:
            if self.path.split("?")[0] == f"/{stub.tenant}/v2.0/.well-known/openid-configuration":
                stub.discovery_requests += 1
                base = f"{stub.base_url}/{stub.tenant}"
                self._send_json(
                    200,
                    {
                        "issuer": f"{base}/v2.0",
                        "token_endpoint": f"{base}/oauth2/v2.0/token",
                        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    },
                )
                return
            self._send_json(404, {"error": "not_found", "error_description": f"AADSTS90002: no tenant {self.path}"})

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            body = self._body()
            if path == f"/{stub.tenant}/oauth2/v2.0/token":
                self._token(body)
            elif path.startswith("/v1.0/users/") and path.endswith("/onlineMeetings/createOrGet"):
                self._create_or_get(path, body)
            else:
                self._send_json(404, {"error": {"code": "NotFound", "message": f"no route {path}"}})

        def _token(self, body: bytes) -> None:
            form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
            stub.token_requests.append(form)
            reply = stub.next_token_reply()
            if reply is not None:
                headers = {"Retry-After": reply.retry_after} if reply.retry_after is not None else {}
                if reply.graph_error:  # an OAuth error body
                    error, description = reply.graph_error
                    self._send_json(reply.status, {"error": error, "error_description": description}, headers)
                else:  # what a failing gateway sends: not JSON
                    self._send_raw(reply.status, b"<html>Service Unavailable</html>", headers)
                return
            if form.get("client_id") != stub.client_id or form.get("client_secret") != stub.client_secret:
                self._send_json(
                    401,
                    {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."},
                )
                return
            if form.get("grant_type") != "client_credentials" or GRAPH_SCOPE not in form.get("scope", "").split():
                self._send_json(400, {"error": "invalid_scope", "error_description": "AADSTS70011: bad scope"})
                return
            self._send_json(200, {"access_token": stub.issue_token(), "token_type": "Bearer", "expires_in": 3600})

        def _create_or_get(self, path: str, raw_body: bytes) -> None:
            try:
                body = json.loads(raw_body or b"{}")
            except ValueError:
                body = {}
            call = GraphCall(path=path, headers=dict(self.headers.items()), body=body)
            stub.graph_calls.append(call)

            def answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                call.status = status
                self._send_json(status, payload, headers)

            authorization = self.headers.get("Authorization", "")
            token = authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else ""
            reply = stub.next_reply()
            if reply is not None:
                if reply.revoke_token and token:
                    stub.revoked_tokens.add(token)
                code, message = reply.graph_error or ("ServiceError", f"scripted {reply.status}")
                headers = {"Retry-After": reply.retry_after} if reply.retry_after is not None else {}
                answer(reply.status, {"error": {"code": code, "message": message}}, headers)
                return
            if token not in stub.issued_tokens or token in stub.revoked_tokens:
                answer(401, {"error": {"code": "InvalidAuthenticationToken", "message": "Access token is invalid."}})
                return
            organizer = unquote(path.removeprefix("/v1.0/users/").removesuffix("/onlineMeetings/createOrGet"))
            if organizer != stub.organizer:
                answer(404, {"error": {"code": "NotFound", "message": f"User {organizer} not found."}})
                return
            missing = [key for key in ("externalId", "subject", "startDateTime", "endDateTime") if not body.get(key)]
            if missing:
                answer(400, {"error": {"code": "BadRequest", "message": f"missing {', '.join(missing)}"}})
                return
            external_id = body["externalId"]
            existing = stub.meetings.get(external_id)
            if existing is not None:
                answer(200, existing)
                return
            meeting_id = f"MSo{secrets.token_urlsafe(24)}"
            meeting = {
                "id": meeting_id,
                "externalId": external_id,
                "subject": body["subject"],
                "startDateTime": body["startDateTime"],
                "endDateTime": body["endDateTime"],
                "joinWebUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{meeting_id}%40thread.v2/0",
            }
            stub.meetings[external_id] = meeting
            answer(201, meeting)

    return Handler
