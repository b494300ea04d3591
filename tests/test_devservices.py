"""The real-server fixtures really serve (each check talks the server's protocol)."""

from __future__ import annotations

import socket

from potluck.devservices import Server


def _send(server: Server, payload: bytes) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(payload)
        return sock.recv(64)


def test_redis_answers_ping(redis_server: Server) -> None:
    assert _send(redis_server, b"PING\r\n") == b"+PONG\r\n"


def test_postgres_accepts_a_query(postgres_server: Server) -> None:
    import psycopg

    with psycopg.connect(
        host=postgres_server.host, port=postgres_server.port, user="postgres", dbname="potluck"
    ) as conn:
        assert conn.execute("SELECT 40 + 2").fetchone() == (42,)


def test_s3_endpoint_speaks_s3(s3_server: Server) -> None:
    from pyarrow import fs

    s3 = fs.S3FileSystem(
        endpoint_override=f"http://{s3_server.host}:{s3_server.port}",
        scheme="http",
        access_key="k",
        secret_key="s",
        region="us-east-1",
        allow_bucket_creation=True,
    )
    s3.create_dir("bucket-a")
    with s3.open_output_stream("bucket-a/x.txt") as out:
        out.write(b"hello")
    with s3.open_input_stream("bucket-a/x.txt") as src:
        assert src.read() == b"hello"
