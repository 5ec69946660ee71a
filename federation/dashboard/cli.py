"""``federation dashboard``: serve the read-only dashboard on this machine until Ctrl-C."""

from __future__ import annotations

import os

from federation.commanding import wait_for_signal


def register(sub, add_hub_flags, client_factory) -> None:
    p = sub.add_parser("dashboard", help="serve a live, read-only web dashboard on this machine (loopback)",
                       description="Serve a read-only web page of the hub's clusters (grouped by "
                                   "network), the services flowing between them, each cluster's sync "
                                   "state, reason and propagation latency, updating live. The page's "
                                   "server holds the admin token; the browser never sees it.")
    p.add_argument("--address", default="127.0.0.1:8765", metavar="HOST:PORT",
                   help="where to serve (default 127.0.0.1:8765; port 0 picks a free one)")
    p.add_argument("--metrics", default=os.environ.get("FEDERATION_METRICS", ""), metavar="HOST:PORT|URL",
                   help="the hub's metrics endpoint, for propagation latency (default FEDERATION_METRICS)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between page updates (default 2)")
    add_hub_flags(p)
    p.set_defaults(func=lambda args: cmd_dashboard(args, client_factory))


def metrics_url(value: str) -> str:
    if not value:
        return ""
    url = value if "://" in value else f"http://{value}"
    return url if url.rstrip("/").endswith("/metrics") else url.rstrip("/") + "/metrics"


def cmd_dashboard(args, client_factory) -> int:
    from federation.dashboard.serving import Dashboard  # the HTTP server only when it runs

    client = client_factory(args)
    dashboard = Dashboard(client, args.address, metrics_url(args.metrics), poll_seconds=args.interval)
    try:
        url = dashboard.start()
        print(f"Dashboard at {url}  (read-only; Ctrl-C stops)", flush=True)
        wait_for_signal()
    finally:
        dashboard.stop()
        client.close()
    return 0
