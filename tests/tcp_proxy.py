"""A tiny TCP proxy for outage tests: the app reaches PostgreSQL through it, the test cuts it.

`cut()` closes every open connection and refuses new ones (accepted, then closed at once, as
a dead network path or a restarting server looks to a client); `restore()` lets them through.
With `cut_when_the_server_drops` set, the proxy cuts itself as soon as the server closes a
connection: the database went away mid-work and stays away.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class TcpProxy:
    """Forward 127.0.0.1:<port> to (host, port) with threads, until cut."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._stopped = False
        self.cut_when_the_server_drops = False
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, server))
            for source, sink, from_server in ((client, server, False), (server, client, True)):
                threading.Thread(
                    target=self._pipe, args=(source, sink, from_server), daemon=True
                ).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, from_server: bool) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            if from_server and self.cut_when_the_server_drops and self.up.is_set():
                self.cut()
            self._close(source, sink)

    def _close(self, *sockets: socket.socket) -> None:
        with self._lock:
            for sock in sockets:
                self._open.discard(sock)
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def cut(self) -> None:
        """Drop every connection now and refuse new ones."""
        self.up.clear()
        with self._lock:
            doomed = list(self._open)
        self._close(*doomed)

    def restore(self) -> None:
        """Let connections through again."""
        self.up.set()

    def stop(self) -> None:
        self._stopped = True
        self.cut()
        self.listener.close()
