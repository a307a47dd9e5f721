"""``newswatch serve``: uvicorn on 127.0.0.1, and no open door beyond loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from webtesting import free_port, make_article, run_newswatch, toml_text

from newswatch.commands.web import is_loopback


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "news.example"])
def test_serve_refuses_a_public_address_without_a_token(tmp_path, host):
    result = run_newswatch("serve", "--host", host, "--port", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"newswatch: refusing to serve on {host} without an access token: set [web] token in "
        "<default config> or NEWSWATCH_WEB_TOKEN\n"
    )
    assert result.stdout == ""


def test_serve_refuses_a_short_token(tmp_path):
    result = run_newswatch(
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "1",
        cwd=tmp_path,
        env={"NEWSWATCH_WEB_TOKEN": "short"},
    )
    assert result.returncode == 2
    assert result.stderr == (
        "newswatch: NEWSWATCH_WEB_TOKEN: the access token needs at least 8 characters\n"
    )


def test_loopback_addresses():
    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.1", "example.com", ""]))


def _get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_serve_answers_on_loopback(empty_index, tmp_path):
    empty_index.store.upsert(make_article(14))
    config = tmp_path / "newswatch.toml"
    config.write_text(toml_text({"store": empty_index.backend.config(empty_index.key)}))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "NEWSWATCH_CONFIG"}
    env["NEWSWATCH_WEB_TOKEN"] = "serve-token-1"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newswatch",
            "--config",
            str(config),
            "serve",
            "--port",
            str(port),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                status, headers, body = _get(f"{base}/api/health")
                break
            except OSError:
                assert server.poll() is None, server.communicate()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        assert status == 401
        assert "default-src 'self'" in headers["content-security-policy"]
        status, _, body = _get(
            f"{base}/api/search?q=race", {"Authorization": "Bearer serve-token-1"}
        )
        assert status == 200
        assert b'"total":1' in body
        assert "server" not in {k.lower() for k in headers}
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    assert out.startswith(f"newswatch: serving http://127.0.0.1:{port}/ (access token required)")
