"""One execution over HTTP: a workflow calls a service that continues it.

    .venv/bin/python examples/continue_over_http.py

Both sides run in this one process for the example (a thread serves 127.0.0.1); in real
life they are two services.  Prints the execution id each side saw.
"""

from __future__ import annotations

import http.server
import threading
import urllib.request

import otel_workflow as ow


@ow.step(name="charge")
def charge(amount: int) -> int:
    return amount


class Service(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with ow.continue_execution(dict(self.headers), workflow="charge") as execution_id:
            charge(int(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(execution_id.encode())

    def log_message(self, *args: object) -> None:
        pass


@ow.workflow(name="checkout")
def checkout(url: str) -> str:
    request = urllib.request.Request(url, data=b"42", headers=ow.inject(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.read().decode())


def main() -> None:
    ow.configure(service_name="example")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Service)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        seen = checkout(f"http://127.0.0.1:{server.server_address[1]}/charge")
        print(f"the service continued execution {seen}")
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
