"""Downloads against a local HTTPS server on 127.0.0.1 (never the real dataset URLs): full download,
resume with a Range request, checksum mismatch, unreachable URL, git blob SHA-1, http:// only with
allow_insecure, no redirect away from https, the sha256 lock of files without a published checksum, and
the `hsframe datasets list/info/download` commands on a test card.

The server's certificate is self-signed for 127.0.0.1 and made per test session; the client trusts it
through SSL_CERT_FILE, so the download code runs unchanged, certificate checks included."""
from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import shutil
import socket
import ssl
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
    read_lock,
)
from hsframe.errors import HsframeError

# `git hash-object /dev/null` (well known; note: not ...c2d2f74d91, a mistyped variant seen around)
EMPTY_BLOB = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate (its own CA) for IP 127.0.0.1, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture(autouse=True)
def trust_the_test_certificate(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))


class _Server:
    """Serves ``files`` (path -> bytes) with Range support; records each request's path and Range.

    HTTPS with ``certificate``, plain HTTP without; ``redirects`` maps a path to a Location for a 302."""

    def __init__(self, certificate: tuple[Path, Path] | None = None) -> None:
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.honour_range = True
        self.scheme = "https" if certificate else "http"
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                if self.path in server.redirects:
                    self.send_response(302)
                    self.send_header("Location", server.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
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
        if certificate:
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(*certificate)
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server(request: pytest.FixtureRequest, certificate: tuple[Path, Path]) -> _Server:
    srv = _Server(certificate)
    request.addfinalizer(srv.close)  # always shut down, even when the test fails
    return srv


@pytest.fixture
def plain_server(request: pytest.FixtureRequest) -> _Server:
    """Plain http://, for allow_insecure and redirects away from https."""
    srv = _Server()
    request.addfinalizer(srv.close)
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
    card = _card({"tiny_cube.mat": [f"https://127.0.0.1:{port}/tiny_cube.mat"],
                  "tiny_gt.mat": [f"https://127.0.0.1:{port}/tiny_gt.mat"]})
    with pytest.raises(DownloadError) as err:
        download_dataset(card, timeout=5)
    msg = str(err.value)
    assert f"https://127.0.0.1:{port}/tiny_cube.mat" in msg and f"https://127.0.0.1:{port}/tiny_gt.mat" in msg
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
        description: A 4 x 5 x 3 scene served by the test's local HTTPS server.
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
    text = text.replace("https://www.ehu.eus/ccwintco/uploads", f"https://127.0.0.1:{port}/uploads")
    (cards / "indian_pines.yaml").write_text(text)  # same name: replaces the shipped card
    monkeypatch.setenv("HSFRAME_CARDS", str(cards))
    monkeypatch.setenv("HSFRAME_DATA", str(tmp_path / "data"))
    result = CliRunner().invoke(datasets, ["download", "indian_pines"], terminal_width=200)
    assert result.exit_code == 2
    assert "Error:" in result.output and "Traceback" not in result.output
    assert f"https://127.0.0.1:{port}/uploads/6/67/Indian_pines_corrected.mat" in result.output
    assert str(tmp_path / "data" / "indian_pines") in result.output


# --------------------------------------------------------------------------- https only, and the checksum lock


@pytest.mark.parametrize("url, why", [
    ("http://example.org/cube.mat", "is plain http://, which anyone on the network path can alter; use https://, "
                                    "or set allow_insecure: true on this file if the host offers nothing else"),
    ("ftp://example.org/cube.mat", "is not an https:// URL (ftp://, file:// and other schemes are refused)"),
    ("file:///etc/passwd", "is not an https:// URL (ftp://, file:// and other schemes are refused)"),
])
def test_a_card_with_a_url_that_is_not_https_is_refused(server: _Server, tmp_path: Path, url: str, why: str) -> None:
    path = _test_card(tmp_path / "cards", server, "a" * 32, "b" * 32)
    path.write_text(path.read_text().replace(server.url("/tiny_cube.mat"), url))
    with pytest.raises(HsframeError) as err:
        read_card(path)
    field = "files[0]" if url.startswith("http:") else "files[0].urls"  # the http check weighs urls and allow_insecure
    assert str(err.value).splitlines()[:2] == [f"dataset card {path} is invalid:", f"  - field '{field}': {url!r} {why}"]


def test_allow_insecure_without_an_http_url_is_refused() -> None:
    with pytest.raises(ValueError, match="allow_insecure: true but none of the urls is http://"):
        FileEntry(name="x.mat", urls=["https://example.org/x.mat"], allow_insecure=True)


def test_http_with_allow_insecure_downloads_with_a_warning(plain_server: _Server, tmp_path: Path, capsys) -> None:
    plain_server.files["/cube.bin"] = PAYLOAD
    entry = FileEntry(name="cube.bin", urls=[plain_server.url("/cube.bin")], allow_insecure=True,
                      sha256=hashlib.sha256(PAYLOAD).hexdigest())
    result = download_file(entry, tmp_path, dataset="tiny")
    assert result.status == "downloaded" and (tmp_path / "cube.bin").read_bytes() == PAYLOAD
    assert f"Warning: tiny/cube.bin: fetching over plain http:// ({plain_server.url('/cube.bin')}), allowed by allow_insecure" \
        in capsys.readouterr().err


def test_a_redirect_from_https_to_http_is_not_followed(server: _Server, plain_server: _Server, tmp_path: Path) -> None:
    plain_server.files["/cube.bin"] = PAYLOAD
    server.redirects["/cube.bin"] = plain_server.url("/cube.bin")
    entry = FileEntry(name="cube.bin", urls=[server.url("/cube.bin")], sha256=hashlib.sha256(PAYLOAD).hexdigest())
    with pytest.raises(DownloadError, match=rf"redirect to {plain_server.url('/cube.bin')} refused: only https:// is followed"):
        download_file(entry, tmp_path)
    assert plain_server.requests == [] and not (tmp_path / "cube.bin").exists()


def test_a_file_without_a_checksum_is_locked_on_first_download(server: _Server, tmp_path: Path) -> None:
    server.files["/gt.mat"] = b"first upstream version"
    entry = FileEntry(name="gt.mat", urls=[server.url("/gt.mat")])  # no checksum, no size
    lock = tmp_path / "hsframe-checksums.json"
    first = download_file(entry, tmp_path, dataset="tiny")
    assert first.status == "downloaded" and first.recorded == lock
    assert json.loads(lock.read_text())["files"]["gt.mat"] == {
        "sha256": hashlib.sha256(b"first upstream version").hexdigest(), "size": 22, "url": server.url("/gt.mat")}
    again = download_file(entry, tmp_path)
    assert again.status == "verified" and again.recorded is None  # checked against the lock

    server.files["/gt.mat"] = b"swapped upstream file!"  # same size, other content
    with pytest.raises(ChecksumError) as err:
        download_file(entry, tmp_path, force=True, dataset="tiny")
    message = str(err.value)
    assert "\n" not in message  # one line
    assert message.startswith(
        f"tiny/gt.mat: sha256 expected {hashlib.sha256(b'first upstream version').hexdigest()} (recorded in {lock} on first "
        f"download), got {hashlib.sha256(b'swapped upstream file!').hexdigest()}. If the upstream file changed on purpose, "
        f"accept the new one by deleting the entry \"gt.mat\" from {lock} and downloading again.")
    assert (tmp_path / "gt.mat").read_bytes() == b"first upstream version"  # the trusted copy stays
    assert (tmp_path / "gt.mat.bad").read_bytes() == b"swapped upstream file!"

    lock.write_text(json.dumps({"files": {}}))  # the deliberate way to accept the new file
    assert download_file(entry, tmp_path, force=True).recorded == lock
    assert read_lock(tmp_path)["gt.mat"]["sha256"] == hashlib.sha256(b"swapped upstream file!").hexdigest()


def test_a_changed_file_in_place_is_set_aside_and_fetched_again(server: _Server, tmp_path: Path) -> None:
    server.files["/gt.mat"] = b"upstream"
    entry = FileEntry(name="gt.mat", urls=[server.url("/gt.mat")], size=8)
    download_file(entry, tmp_path)
    (tmp_path / "gt.mat").write_bytes(b"tampered")  # same size: only the recorded sha256 tells
    result = download_file(entry, tmp_path)
    assert result.status == "downloaded" and result.set_aside == tmp_path / "gt.mat.bad"
    assert (tmp_path / "gt.mat").read_bytes() == b"upstream"


def test_a_file_without_a_checksum_is_checked_by_its_size(server: _Server, tmp_path: Path) -> None:
    server.files["/gt.mat"] = b"short"
    with pytest.raises(ChecksumError, match="size: expected 8 bytes, got 5"):
        download_file(FileEntry(name="gt.mat", urls=[server.url("/gt.mat")], size=8), tmp_path)
    assert not (tmp_path / "hsframe-checksums.json").exists()  # nothing recorded for a file that failed


def test_shipped_cards_download_over_https_only() -> None:
    from hsframe.data.catalog import builtin_cards_dir, load_cards

    cards = load_cards([builtin_cards_dir()])
    urls = [u for c in cards.values() for f in c.files for u in f.urls]
    assert urls and all(u.startswith("https://") for u in urls)
    assert not [f.name for c in cards.values() for f in c.files if f.allow_insecure]


def test_an_unvalidated_entry_with_an_http_url_is_not_fetched(plain_server: _Server, tmp_path: Path) -> None:
    plain_server.files["/cube.bin"] = PAYLOAD
    entry = FileEntry(name="cube.bin", urls=["https://127.0.0.1:9/cube.bin"]).model_copy(update={"urls": [plain_server.url("/cube.bin")]})
    with pytest.raises(DownloadError, match=r"refused, only https:// is downloaded \(http:// needs allow_insecure: true on the file\)"):
        download_file(entry, tmp_path)
    assert plain_server.requests == []


def _record_many(folder: str, worker: int) -> None:
    from hsframe.data.download import _record

    for i in range(20):
        _record(Path(folder), f"w{worker}-{i}.bin", f"{worker:02d}{i:062d}", i, None)


def test_parallel_first_records_into_one_lock_lose_no_entry(tmp_path: Path) -> None:
    import multiprocessing

    from hsframe.data.download import read_lock

    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_record_many, args=(str(tmp_path), w)) for w in range(6)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(60)
    assert [p.exitcode for p in workers] == [0] * 6
    assert len(read_lock(tmp_path)) == 6 * 20  # read-modify-replace without the file lock drops entries here
