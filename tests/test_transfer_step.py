"""``docket transfer ID``: files into the instance, the resource registry and PROV, on both stores."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.clirun import docket_cli
from tests.conftest import EXAMPLES
from tests.people import as_role

PAYLOAD = b"station,temp\nA,1.5\nB,2.5\n" * 2000
RELEASE = threading.Event()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/good.csv":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        elif self.path in ("/unsized-cut.csv", "/unsized.csv"):  # no length: the end is the close
            self.send_response(200)
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 3] if "cut" in self.path else PAYLOAD)
            self.close_connection = True
        elif self.path == "/held.csv":  # waits until the test lets it answer
            RELEASE.wait(30)
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        elif self.path == "/cut.csv":  # promises everything, sends half, hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def approved(dk, doc: dict) -> str:
    request_id = dk.submit(doc)["id"]
    as_role(dk, "reviewer", "Eva").review(request_id, "approved")
    return request_id


def test_example_request_transfers_with_registry_and_prov(dk, instance_dir: Path) -> None:
    request_id = approved(dk, dk._load(EXAMPLES / "requests" / "soil-several-files.json"))
    result = docket_cli("transfer", request_id, "--json", instance=instance_dir)
    assert result.code == 0, result.err
    body = result.json()
    assert body["outcome"] == "done" and not body["failures"]
    for entry in dk.files(request_id):
        source = EXAMPLES / "files" / entry["name"]
        assert entry["status"] == "stored"
        assert entry["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
        assert Path(entry["location"]).read_bytes() == source.read_bytes()
    assert dk.get(request_id)["steps"]["transfer"] == {"status": "closed", "outcome": "done"}
    provn = dk.export_prov(request_id, "provn").decode()
    assert f"{request_id}_transfer_1_file:soil_sites.csv" in provn
    assert "wasDerivedFrom" in provn and "spdx:checksumAlgorithm_sha256" in provn


def test_dropped_connection_fails_the_step_and_leaves_no_partial_file(dk, instance_dir: Path, server: str) -> None:
    doc = json.loads((EXAMPLES / "requests" / "weather-table-schema.json").read_text())
    doc["files"] = [{"name": "good.csv", "location": f"{server}/good.csv"},
                    {"name": "cut.csv", "location": f"{server}/cut.csv"}]
    request_id = approved(dk, doc)
    config = instance_dir / "docket.toml"  # the test server is on loopback, refused by default
    config.write_text(config.read_text().replace("allow = []", 'allow = ["127.0.0.1"]'))
    result = docket_cli("transfer", request_id, "--json", instance=instance_dir)
    assert result.code == 1
    body = result.json()
    assert body["outcome"] == "failed"
    assert [f["name"] for f in body["failures"]] == ["cut.csv"], body["failures"]
    stored = instance_dir / "files" / request_id / "1"
    assert sorted(p.name for p in stored.iterdir()) == ["good.csv"]
    # locations are IRIs: the source's the URL as given, the stored file's its file: URI
    locations = {str(next(iter(r.get_attribute("prov:type")))): next(iter(r.get_attribute("prov:location"))).uri
                 for b in dk.prov(request_id).bundles for r in b.get_records() if r.get_attribute("prov:location")}
    assert locations == {"dkt:SourceFile": f"{server}/good.csv", "dkt:StoredFile": (stored / "good.csv").as_uri()}
    rows = {r["name"]: r for r in dk.files(request_id)}
    assert rows["good.csv"]["status"] == "stored" and rows["cut.csv"]["status"] == "failed"
    assert "cut.csv" in dk.get(request_id)["steps"]["transfer"]["comment"]
    with pytest.raises(Exception, match="needs transfer closed/done"):
        dk.set_step(request_id, "qa", "in-progress")


def test_local_paths_outside_the_allowed_folders_are_refused(dk) -> None:
    doc = json.loads((EXAMPLES / "requests" / "weather-table-schema.json").read_text())
    doc["files"] = [{"name": "passwd", "location": "/etc/passwd"}]
    request_id = approved(dk, doc)
    result = dk.transfer(request_id)
    assert result["outcome"] == "failed"
    assert "passwd" in result["failures"][0]["reason"]
    assert not (dk.instance.files_dir / request_id / "1" / "passwd").exists()


def test_transfer_needs_an_approved_request(dk, instance_dir: Path) -> None:
    request_id = dk.submit(dk._load(EXAMPLES / "requests" / "ctd-multilingual.json"))["id"]
    result = docket_cli("transfer", request_id, instance=instance_dir)
    assert result.code == 3 and "approved" in result.err


def test_the_instance_proxy_setting_is_used(dk, instance_dir: Path, server: str) -> None:
    """[transfer] proxies in docket.toml sends the transfer through that proxy (here: a server
    that is no proxy at all, so the transfer fails naming what the 'proxy' answered)."""
    config = instance_dir / "docket.toml"
    config.write_text(config.read_text().replace("[transfer]\n", f'[transfer]\nproxies = {{ http = "{server}" }}\n'))
    doc = json.loads((EXAMPLES / "requests" / "weather-table-schema.json").read_text())
    doc["files"] = [{"name": "good.csv", "location": "http://data.invalid/good.csv"}]
    import docket

    with docket.open(instance_dir) as d:
        request_id = approved(d, doc)
        result = d.transfer(request_id)
    assert result["outcome"] == "failed"
    assert "404" in result["failures"][0]["reason"]  # the proxy was asked for the absolute URL


def allow_loopback(instance_dir: Path) -> None:
    config = instance_dir / "docket.toml"  # the test server is on loopback, refused by default
    config.write_text(config.read_text().replace("allow = []", 'allow = ["127.0.0.1"]'))


def test_a_body_shorter_than_declared_fails_and_a_longer_one_is_stored(instance_dir: Path, server: str) -> None:
    """Without a Content-Length only the provider's declared size tells a cut body from a whole
    one: a third of the file was stored as done before."""
    import docket

    allow_loopback(instance_dir)
    short_local = instance_dir / "inbox" / "short.csv"
    short_local.write_bytes(PAYLOAD[:100])
    doc = json.loads((EXAMPLES / "requests" / "weather-table-schema.json").read_text())
    doc["files"] = [{"name": "cut.csv", "location": f"{server}/unsized-cut.csv", "size": len(PAYLOAD)},
                    {"name": "long.csv", "location": f"{server}/unsized.csv", "size": len(PAYLOAD) // 2},
                    {"name": "short.csv", "location": str(short_local), "size": 101}]
    with docket.open(instance_dir) as d:
        request_id = approved(d, doc)
        result = d.transfer(request_id)
        rows = {r["name"]: r for r in d.files(request_id)}
    failures = {f["name"]: f["reason"] for f in result["failures"]}
    assert set(failures) == {"cut.csv", "short.csv"}
    assert f"received {len(PAYLOAD) // 3} of the {len(PAYLOAD)} bytes the provider declared" in failures["cut.csv"]
    assert "cut short" in failures["cut.csv"]
    assert "100 bytes, fewer than the 101 the provider declared" in failures["short.csv"]
    assert rows["long.csv"]["status"] == "stored" and rows["long.csv"]["size"] == len(PAYLOAD)
    assert rows["cut.csv"]["status"] == rows["short.csv"]["status"] == "failed"
    stored = instance_dir / "files" / request_id / "1"
    assert sorted(p.name for p in stored.iterdir()) == ["long.csv"]


def test_a_second_transfer_of_a_running_request_is_a_conflict(instance_dir: Path, server: str) -> None:
    import docket

    allow_loopback(instance_dir)
    doc = json.loads((EXAMPLES / "requests" / "weather-table-schema.json").read_text())
    doc["files"] = [{"name": "held.csv", "location": f"{server}/held.csv"}]
    RELEASE.clear()
    outcome: list[object] = []
    with docket.open(instance_dir) as d:
        request_id = approved(d, doc)

        def first() -> None:
            with docket.open(instance_dir) as mine:
                outcome.append(mine.transfer(request_id)["outcome"])

        runner = threading.Thread(target=first)
        runner.start()
        try:
            for _ in range(200):
                if d.get(request_id)["steps"]["transfer"]["status"] == "in-progress":
                    break
                threading.Event().wait(0.05)
            second = docket_cli("transfer", request_id, instance=instance_dir)
            assert second.code == 4, second.err
            assert "being transferred by another process" in second.err
        finally:
            RELEASE.set()
            runner.join(30)
        assert outcome == ["done"]
        history = [(h["to"], h["outcome"]) for h in d.history(request_id) if h["step"] == "transfer"]
        assert history == [("in-progress", None), ("closed", "done")]  # the refused one left no trace
