"""The request read deadline of `serve`'s worker, on a socket pair (no server)."""

from __future__ import annotations

import socket
import time

from service.server import _DeadlineSocket, gunicorn_options


def test_reads_past_the_request_deadline_end_the_stream_even_with_data_waiting() -> None:
    ours, peer = socket.socketpair()
    with ours, peer:
        wrapped = _DeadlineSocket(ours)
        peer.sendall(b"GET / HTTP/1.1\r\n")
        assert wrapped.recv(1024) == b"GET / HTTP/1.1\r\n"
        peer.sendall(b"Host: x\r\n")
        wrapped.deadline = time.monotonic() - 1
        assert wrapped.recv(1024) == b""


def test_serve_runs_the_threaded_worker_without_access_log_or_control_socket() -> None:
    options = gunicorn_options(2)
    assert options["worker_class"] == "service.server.BoundedThreadWorker"
    assert options["threads"] >= 8
    assert options["accesslog"] is None
    assert options["control_socket_disable"] is True
