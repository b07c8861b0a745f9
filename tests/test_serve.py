"""`make serve`'s listening socket: keep-alive connections get TCP_NODELAY with any number of
workers, so a request does not wait for the client's delayed ACK."""

import asyncio
import socket

import pytest
import uvicorn

from leadsift.core.io import InputError
from leadsift.serve import APP, listening_socket, serve
from tests.server import free_port


async def _nodelay_of_an_accepted_connection(listening: socket.socket) -> int:
    """TCP_NODELAY on the server side of one connection asyncio accepts on `listening`."""
    loop = asyncio.get_running_loop()
    seen: asyncio.Future[int] = loop.create_future()

    class Report(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted = transport.get_extra_info("socket")
            seen.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await loop.create_server(Report, sock=listening)
    _, writer = await asyncio.open_connection(*listening.getsockname())
    try:
        return await asyncio.wait_for(seen, timeout=10)
    finally:
        writer.close()
        server.close()
        await server.wait_closed()


def test_accepted_connections_have_nagle_off():
    config = uvicorn.Config(APP, host="127.0.0.1", port=free_port(), workers=2)
    sock = listening_socket(config)
    assert sock.proto == socket.IPPROTO_TCP
    assert asyncio.run(_nodelay_of_an_accepted_connection(sock)) != 0
    # uvicorn's own socket, the reason for `listening_socket`: when this fails, uvicorn has
    # fixed its issue #3149 and the re-wrapping can go
    plain = uvicorn.Config(APP, host="127.0.0.1", port=free_port(), workers=2).bind_socket()
    assert asyncio.run(_nodelay_of_an_accepted_connection(plain)) == 0


def test_a_missing_model_directory_is_named(tmp_path):
    with pytest.raises(
        InputError, match=r"absent: no such model directory; pass one, or a models:/"
    ):
        serve(str(tmp_path / "absent"), "127.0.0.1", free_port(), workers=1)
