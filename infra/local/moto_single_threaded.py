"""DynamoDB emulator for the local stack: moto's server app, served on ONE thread.

The stock `moto_server` answers on threads, and moto's TransactWriteItems restores a copy of
the whole table when a transaction fails, without a lock: concurrent transactions then oversell
stock and lose writes. Served one request at a time, every request sees the last one whole.
Usage: python moto_single_threaded.py PORT
"""

import os
import signal
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import run_simple


def main() -> None:
    port = int(sys.argv[1])
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        "127.0.0.1",
        port,
        app,
        threaded=False,
        processes=1,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
