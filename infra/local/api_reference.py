#!/usr/bin/env python3
"""The shop API's reference page: openapi.json (the contract the API serves at GET /openapi.json)
rendered by Redoc's standalone bundle (docs/api, its own package.json), on a port of its own.
`make dev` starts it beside the stack; the browser test tests/browser/api-reference.test.mjs
starts it alone.

    python3 infra/local/api_reference.py PORT
"""

import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REDOC = ROOT / "docs/api/node_modules/redoc/bundles/redoc.standalone.js"

PAGE = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Serverless shop API reference</title>
<link rel="icon" href="data:,">
<style>body { margin: 0; }</style>
</head>
<body>
<redoc spec-url="/openapi.json" hide-download-button="false"></redoc>
<script src="/redoc.standalone.js"></script>
</body>
</html>
"""

# Nothing but this origin: the page, the bundle and the contract are all served here. Redoc
# styles with inline <style> and searches in a worker it makes from a blob.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src blob:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

# path -> (what it is, where it is read from, or the bytes themselves)
FILES = {
    "/": ("text/html; charset=utf-8", PAGE),
    "/openapi.json": ("application/json", ROOT / "openapi.json"),
    "/redoc.standalone.js": ("text/javascript; charset=utf-8", REDOC),
}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        known = FILES.get(self.path.split("?", 1)[0])
        if known is None:
            self.send_error(HTTPStatus.NOT_FOUND, "The reference has the page /, /openapi.json and its script")
            return
        kind, source = known
        # Read at every request, so an edited contract (`make client`) shows on reload.
        body = source if isinstance(source, bytes) else source.read_bytes()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", POLICY)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)


def serve(port: int) -> ThreadingHTTPServer:
    """Serves the reference on 127.0.0.1:`port` in a thread of its own; answers the server."""
    if not REDOC.exists():
        raise SystemExit(f"api reference: {REDOC} is missing; run `make docs/api/node_modules/.installed`")
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, name="api-reference", daemon=True).start()
    return server


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        raise SystemExit(__doc__)
    # Port 0 takes a free one; the line printed says which.
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print(f"api reference on http://127.0.0.1:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
