"""Downloads against a local HTTP server on 127.0.0.1 (never the real dataset URLs): full download,
resume with a Range request, checksum mismatch, unreachable URL, git blob SHA-1, and the
`hsframe datasets list/info/download` commands on a test card."""
from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hsframe.data.catalog import DatasetCard, FileEntry, read_card
from hsframe.data.download import (
    ChecksumError,
    DownloadError,
    download_dataset,
    download_file,
    file_checksums,
    git_blob_sha1,
)
from hsframe.errors import HsframeError

# `git hash-object /dev/null` (well known; note: not ...c2d2f74d91, a mistyped variant seen around)
EMPTY_BLOB = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


class _Server:
    """Serves ``files`` (path -> bytes) with Range support; records each request's path and Range."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.honour_range = True
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                if rng and server.honour_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                self.wfile.write(body[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server(request: pytest.FixtureRequest) -> _Server:
    srv = _Server()
    request.addfinalizer(srv.close)  # always shut down, even when the test fails
    return srv


def _closed_port() -> int:
    """A port nothing listens on (bound, then released), so a connection is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PAYLOAD = bytes(range(256)) * 4096  # 1 MiB: more than one read chunk is not needed, but realistic


def _entry(server: _Server, name: str = "cube.bin", body: bytes = PAYLOAD, **sums: str) -> FileEntry:
    server.files[f"/{name}"] = body
    if not sums:
        sums = {"md5": hashlib.md5(body).hexdigest(), "sha256": hashlib.sha256(body).hexdigest()}
    return FileEntry(name=name, urls=[server.url(f"/{name}")], **sums)


# --------------------------------------------------------------------------- checksums


def test_git_blob_sha1_of_the_empty_blob(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert git_blob_sha1(empty) == EMPTY_BLOB


def test_git_blob_sha1_matches_git_hash_object(tmp_path: Path) -> None:
    f = tmp_path / "small.txt"
    f.write_bytes(b"hsframe dataset card\n" * 3)
    expected = hashlib.sha1(b"blob %d\0" % f.stat().st_size + f.read_bytes()).hexdigest()
    assert git_blob_sha1(f) == expected
    if shutil.which("git") is None:
        pytest.skip("git is not installed; checked against the formula only")
    out = subprocess.run(["git", "hash-object", str(f)], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert git_blob_sha1(f) == out.stdout.strip()


def test_file_checksums_one_pass(tmp_path: Path) -> None:
    f = tmp_path / "x"
    f.write_bytes(b"abc")
    sums = file_checksums(f)
    assert sums["md5"] == "900150983cd24fb0d6963f7d28e17f72"
    assert sums["sha256"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# --------------------------------------------------------------------------- downloads


def test_full_download_with_checksums(server: _Server, tmp_path: Path) -> None:
    entry = _entry(server, git_sha1=hashlib.sha1(b"blob %d\0" % len(PAYLOAD) + PAYLOAD).hexdigest(),
                   md5=hashlib.md5(PAYLOAD).hexdigest())
    result = download_file(entry, tmp_path / "ds")
    assert result.status == "downloaded" and result.url == entry.urls[0]
    assert (tmp_path / "ds" / "cube.bin").read_bytes() == PAYLOAD
    assert not (tmp_path / "ds" / "cube.bin.part").exists()
    assert server.requests == [("/cube.bin", None)]
    # Present and matching: verified, not fetched again.
    assert download_file(entry, tmp_path / "ds").status == "verified"
    assert len(server.requests) == 1


def test_resume_from_a_partial_file_uses_a_range_request(server: _Server, tmp_path: Path) -> None:
    entry = _entry(server)
    folder = tmp_path / "ds"
    folder.mkdir()
    half = len(PAYLOAD) // 2 + 123
    (folder / "cube.bin.part").write_bytes(PAYLOAD[:half])
    result = download_file(entry, folder)
    assert result.status == "downloaded"
    assert server.requests == [("/cube.bin", f"bytes={half}-")]
    assert (folder / "cube.bin").read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts_cleanly(server: _Server, tmp_path: Path) -> None:
    entry = _entry(server)
    server.honour_range = False
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "cube.bin.part").write_bytes(b"stale bytes from another attempt")
    download_file(entry, folder)
    assert (folder / "cube.bin").read_bytes() == PAYLOAD  # not appended to the stale part


def test_complete_part_file_is_verified_after_a_416(server: _Server, tmp_path: Path) -> None:
    entry = _entry(server)
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "cube.bin.part").write_bytes(PAYLOAD)
    assert download_file(entry, folder).status == "downloaded"
    assert (folder / "cube.bin").read_bytes() == PAYLOAD


def test_checksum_mismatch_moves_the_file_aside(server: _Server, tmp_path: Path) -> None:
    entry = _entry(server, md5="0" * 32)
    folder = tmp_path / "ds"
    with pytest.raises(ChecksumError) as err:
        download_file(entry, folder)
    msg = str(err.value)
    assert "md5: expected 00000000000000000000000000000000, got " + hashlib.md5(PAYLOAD).hexdigest() in msg
    assert "cube.bin.bad" in msg and "will not be used" in msg
    assert (folder / "cube.bin.bad").read_bytes() == PAYLOAD
    assert not (folder / "cube.bin").exists() and not (folder / "cube.bin.part").exists()


def test_present_file_with_wrong_checksum_is_replaced(server: _Server, tmp_path: Path) -> None:
    entry = _entry(server)
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "cube.bin").write_bytes(b"corrupt")
    result = download_file(entry, folder)
    assert result.status == "downloaded" and result.set_aside == folder / "cube.bin.bad"
    assert (folder / "cube.bin").read_bytes() == PAYLOAD
    assert (folder / "cube.bin.bad").read_bytes() == b"corrupt"


def test_second_url_is_tried_when_the_first_fails(server: _Server, tmp_path: Path) -> None:
    entry = _entry(server)
    entry = entry.model_copy(update={"urls": [server.url("/missing.bin"), *entry.urls]})
    result = download_file(entry, tmp_path)
    assert result.url == server.url("/cube.bin")


def _card(urls: dict[str, list[str]], **extra) -> DatasetCard:
    return DatasetCard.model_validate({
        "name": "tiny", "title": "Tiny", "description": "test", "shape": [4, 5, 3],
        "files": [{"name": n, "urls": u} for n, u in urls.items()],
        "cube": {"file": "tiny_cube.mat", "key": "cube"}, "labels": {"file": "tiny_gt.mat", "key": "gt"},
        "num_classes": 2, "class_names": ["a", "b"], "palette": [[255, 0, 0], [0, 255, 0]],
        "rgb_bands": [2, 1, 0], "citation": "none", "license": "test", "source": "http://example.invalid/",
        **extra,
    })


def test_unreachable_url_lists_urls_and_the_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HSFRAME_DATA", str(tmp_path / "data"))
    port = _closed_port()
    card = _card({"tiny_cube.mat": [f"http://127.0.0.1:{port}/tiny_cube.mat"],
                  "tiny_gt.mat": [f"http://127.0.0.1:{port}/tiny_gt.mat"]})
    with pytest.raises(DownloadError) as err:
        download_dataset(card, timeout=5)
    msg = str(err.value)
    assert f"http://127.0.0.1:{port}/tiny_cube.mat" in msg and f"http://127.0.0.1:{port}/tiny_gt.mat" in msg
    assert str(tmp_path / "data" / "tiny") in msg and "HSFRAME_DATA" in msg
    assert "refused" in msg.lower() or "Connection" in msg


def test_manual_card_says_where_to_get_the_files(tmp_path: Path) -> None:
    card = _card({"tiny_cube.mat": [], "tiny_gt.mat": []}, manual_download=True,
                 download_instructions="Register on the source page.")
    with pytest.raises(HsframeError, match=r"(?s)by hand.*Register on the source page.*tiny/ "):
        download_dataset(card, root=tmp_path)


# --------------------------------------------------------------------------- CLI


def _test_card(folder: Path, server: _Server, cube_md5: str, gt_md5: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: tiny
        title: Tiny test scene
        description: A 4 x 5 x 3 scene served by the test's local HTTP server.
        shape: [4, 5, 3]
        files:
          - name: tiny_cube.mat
            urls: ["{server.url('/tiny_cube.mat')}"]
            md5: {cube_md5}
          - name: tiny_gt.mat
            urls: ["{server.url('/tiny_gt.mat')}"]
            md5: {gt_md5}
        cube: {{file: tiny_cube.mat, key: cube, layout: HWB}}
        labels: {{file: tiny_gt.mat, key: gt}}
        num_classes: 2
        class_names: [grass, road]
        palette: [[0, 200, 0], [128, 128, 128]]
        rgb_bands: [2, 1, 0]
        citation: "Test data, no citation."
        license: test only
        source: http://127.0.0.1/
        """))
    return path


def _mat_bytes(tmp: Path, **arrays: np.ndarray) -> bytes:
    import scipy.io

    f = tmp / "x.mat"
    scipy.io.savemat(f, arrays)
    return f.read_bytes()


def test_cli_list_info_download(server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hsframe.cli.datasets import datasets
    from hsframe.data.catalog import load_scene

    rng = np.random.default_rng(0)
    cube = rng.random((4, 5, 3)).astype(np.float32)
    gt = np.zeros((4, 5), np.uint8)
    gt[0, :2], gt[3, 1:] = 1, 2
    server.files["/tiny_cube.mat"] = _mat_bytes(tmp_path, cube=cube)
    server.files["/tiny_gt.mat"] = _mat_bytes(tmp_path, gt=gt)
    md5 = {k: hashlib.md5(v).hexdigest() for k, v in server.files.items()}
    card_path = _test_card(tmp_path / "cards", server, md5["/tiny_cube.mat"], md5["/tiny_gt.mat"])
    assert read_card(card_path).name == "tiny"
    monkeypatch.setenv("HSFRAME_CARDS", str(tmp_path / "cards"))
    monkeypatch.setenv("HSFRAME_DATA", str(tmp_path / "data"))
    runner = CliRunner()

    listed = runner.invoke(datasets, ["list"], terminal_width=200)
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if "tiny" in line)
    assert "4x5x3" in row and "no" in row
    assert "indian_pines" in listed.output  # the shipped cards are listed too

    info = runner.invoke(datasets, ["info", "tiny"], terminal_width=200)
    assert info.exit_code == 0, info.output
    for text in ("Tiny test scene", "grass", "road", md5["/tiny_cube.mat"], server.url("/tiny_gt.mat"),
                 str(tmp_path / "data" / "tiny"), "Test data, no citation."):
        assert text in info.output

    got = runner.invoke(datasets, ["download", "tiny"], terminal_width=200)
    assert got.exit_code == 0, got.output
    assert "downloaded and verified" in got.output
    assert (tmp_path / "data" / "tiny" / "tiny_cube.mat").read_bytes() == server.files["/tiny_cube.mat"]
    again = runner.invoke(datasets, ["download", "tiny"], terminal_width=200)
    assert "already here, verified" in again.output
    assert len(server.requests) == 2  # the second run verified and fetched nothing
    forced = runner.invoke(datasets, ["download", "tiny", "--force"], terminal_width=200)
    assert forced.exit_code == 0 and len(server.requests) == 4

    listed = runner.invoke(datasets, ["list", "--json"])
    [tiny] = [d for d in __import__("json").loads(listed.output)["datasets"] if d["name"] == "tiny"]
    assert tiny["downloaded"] is True

    # The downloaded files open as a Scene with the card's names and palette.
    scene = load_scene("tiny")
    assert scene.shape == (4, 5, 3) and scene.class_names == ["grass", "road"]
    assert scene.palette == [(0, 200, 0), (128, 128, 128)]
    np.testing.assert_allclose(scene.cube, cube)
    assert np.bincount(scene.labels.ravel()).tolist() == [14, 2, 4]


def test_cli_unknown_name_suggests_the_nearest(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from hsframe.cli.datasets import datasets

    monkeypatch.setenv("HSFRAME_DATA", str(tmp_path))
    for cmd in ("info", "download"):
        result = CliRunner().invoke(datasets, [cmd, "indian_pine"])
        assert result.exit_code == 2
        assert "unknown dataset 'indian_pine'" in result.output and "Did you mean 'indian_pines'?" in result.output


def test_cli_download_failure_is_one_clear_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from hsframe.cli.datasets import datasets

    port = _closed_port()
    cards = tmp_path / "cards"
    cards.mkdir()
    text = (Path(__file__).resolve().parents[1] / "datasets" / "indian_pines.yaml").read_text()
    text = text.replace("https://www.ehu.eus/ccwintco/uploads", f"http://127.0.0.1:{port}/uploads")
    (cards / "indian_pines.yaml").write_text(text)  # same name: replaces the shipped card
    monkeypatch.setenv("HSFRAME_CARDS", str(cards))
    monkeypatch.setenv("HSFRAME_DATA", str(tmp_path / "data"))
    result = CliRunner().invoke(datasets, ["download", "indian_pines"], terminal_width=200)
    assert result.exit_code == 2
    assert "Error:" in result.output and "Traceback" not in result.output
    assert f"http://127.0.0.1:{port}/uploads/6/67/Indian_pines_corrected.mat" in result.output
    assert str(tmp_path / "data" / "indian_pines") in result.output
