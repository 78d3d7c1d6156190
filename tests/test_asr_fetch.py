"""``asr fetch-model`` against a local HTTP server serving small zips."""
from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile

import pytest

from callcenter.asr.fetch import ChecksumMismatch, FetchError, fetch_model
from callcenter.cli import main as cli_main


def model_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


GOOD = model_zip({"vosk-model-tiny/am/final.mdl": b"acoustic", "vosk-model-tiny/conf/model.conf": b"--beam=10\n"})
EVIL = model_zip({"vosk-model-tiny/am/final.mdl": b"x", "vosk-model-tiny/../../escaped.txt": b"gotcha"})
TWO_TOPS = model_zip({"a/x": b"1", "b/y": b"2"})


@pytest.fixture(scope="module")
def server():
    files = {"/good.zip": GOOD, "/evil.zip": EVIL, "/two.zip": TWO_TOPS, "/notzip.zip": b"plain text"}
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    httpd.shutdown()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_verified_download_is_unpacked_with_nothing_left_over(server, tmp_path):
    url, _ = server
    seen = []
    fetched = fetch_model(f"{url}/good.zip", tmp_path, sha256=sha(GOOD), progress=lambda d, t: seen.append((d, t)))
    assert fetched.model_dir == tmp_path / "vosk-model-tiny" and fetched.verified
    assert (fetched.model_dir / "conf" / "model.conf").read_bytes() == b"--beam=10\n"
    assert [p.name for p in tmp_path.iterdir()] == ["vosk-model-tiny"]
    assert seen[-1] == (len(GOOD), len(GOOD))


def test_wrong_checksum_leaves_nothing(server, tmp_path):
    url, _ = server
    with pytest.raises(ChecksumMismatch, match="does not match"):
        fetch_model(f"{url}/good.zip", tmp_path, sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_no_checksum_refuses_before_downloading(server, tmp_path):
    url, requests = server
    before = len(requests)
    with pytest.raises(FetchError, match="--sha256"):
        fetch_model(f"{url}/good.zip", tmp_path, sha256=None)
    assert len(requests) == before


def test_skip_verify_is_explicit_and_reported(server, tmp_path):
    url, _ = server
    fetched = fetch_model(f"{url}/good.zip", tmp_path, sha256=None, insecure_skip_verify=True)
    assert not fetched.verified and fetched.sha256 == sha(GOOD)


@pytest.mark.parametrize("name,message", [("evil.zip", "unsafe path"), ("two.zip", "one model directory"),
                                          ("notzip.zip", "not a zip"), ("missing.zip", "download failed")])
def test_bad_archives_are_refused_and_nothing_is_written(server, tmp_path, name, message):
    url, _ = server
    dest = tmp_path / "models"
    with pytest.raises(FetchError, match=message):
        fetch_model(f"{url}/{name}", dest, sha256=None, insecure_skip_verify=True)
    assert list(dest.iterdir()) == [] and not (tmp_path / "escaped.txt").exists()


def test_an_existing_model_is_not_overwritten(server, tmp_path):
    url, _ = server
    (tmp_path / "vosk-model-tiny").mkdir()
    (tmp_path / "vosk-model-tiny" / "mine").write_text("keep")
    with pytest.raises(FetchError, match="already exists"):
        fetch_model(f"{url}/good.zip", tmp_path, sha256=sha(GOOD))
    assert (tmp_path / "vosk-model-tiny" / "mine").read_text() == "keep"


def test_fetch_model_command_exit_codes(server, tmp_path, capsys, monkeypatch):
    url, _ = server
    monkeypatch.delenv("CALLCENTER_CONFIG", raising=False)
    base = ["asr", "fetch-model", "--url", f"{url}/good.zip"]
    assert cli_main([*base, "--dest", str(tmp_path / "a")]) == 2                       # no checksum
    assert cli_main([*base, "--dest", str(tmp_path / "b"), "--sha256", "1" * 64]) == 3   # mismatch
    assert cli_main([*base, "--dest", str(tmp_path / "c"), "--sha256", sha(GOOD)]) == 0
    out = capsys.readouterr().out
    assert f"CALLCENTER_VOSK_MODEL={tmp_path / 'c' / 'vosk-model-tiny'}" in out and "verified" in out
    assert cli_main(["asr", "fetch-model", "--url", f"{url}/missing.zip", "--dest", str(tmp_path / "d"),
                     "--insecure-skip-verify"]) == 1
