"""`workbench build` and deploy-from-source against the lab builder (dockerd in a namespace
host, reached over SSH) with the lab's OPAM image double."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.lab.deploykit import ROOT, cli, on_target, remove, variant
from workbench.artifacts.elf import inspect
from workbench.examples import HELLO
from workbench.lab import builder

pytestmark = pytest.mark.lab


def source_copy(tmp_path: Path, **replace: str) -> Path:
    """workbench/examples/hello copied, with text replaced per file (file name -> (old, new))."""
    src = tmp_path / "src"
    shutil.copytree(HELLO, src)
    for name, change in replace.items():
        old, new = change.split("=>")
        path = src / name.replace("_ml", ".ml")
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))
    return src


def profile(tmp_path: Path, src: Path, *, image: str | None = None, **host: str) -> Path:
    text = (ROOT / "profiles" / "lab.yaml").read_text()
    text = text.replace("source: ../workbench/examples/hello", f"source: {src}")
    if image:
        text = text.replace("image: workbench-lab/opam-double:latest", f"image: {image}")
    for key, value in host.items():
        text = text.replace("  builder:\n", f"  builder:\n    {key}: {value}\n", 1)
    path = tmp_path / "build.yaml"
    path.write_text(text)
    return path


def wb(tmp_path: Path, *args: str, timeout: float = 300) -> tuple[int, list[dict], str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = subprocess.run(
        cli(*args, "--json"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.returncode, events, result.stderr


def finished(events: list[dict]) -> list[str]:
    return [e["step"] for e in events if e["event"] == "step_finished"]


def failed(events: list[dict]) -> dict:
    found = [e for e in events if e["event"] == "step_failed"]
    assert len(found) == 1, events
    return found[0]


def containers_created_since(since: float) -> list[str]:
    out = builder.docker(
        "events",
        "--since",
        f"{since:.3f}",
        "--until",
        f"{time.time():.3f}",
        "--filter",
        "type=container",
        "--filter",
        "event=create",
        "--format",
        "{{.ID}}",
    )
    return out.split()


def test_build_fetches_artifact_and_tender_then_reuses_them(lab, tmp_path):
    # A first build on this image: no opam root volume from an earlier one, so mirage is
    # installed into the switch (later builds on the same image find it there).
    for name in builder.docker("volume", "ls", "-q", "--filter", "name=-opam-").split():
        builder.docker("volume", "rm", name)
    path = profile(tmp_path, source_copy(tmp_path))
    code, events, err = wb(tmp_path, "build", "--profile", str(path), "--output", str(tmp_path))
    assert code == 0, err + json.dumps(events[-3:])
    assert finished(events) == [
        "docker",
        "arch",
        "image",
        "source",
        "container",
        "mirage",
        "configure",
        "depend",
        "build",
        "fetch",
    ]
    lines = [e["text"] for e in events if e["event"] == "build_line"]
    assert "Your unikernel binary is now ready in ./dist/hello.hvt" in lines
    result = next(e for e in events if e["event"] == "build_result")
    assert not result["cached"]
    art, tender = inspect(result["artifact"]), inspect(result["tender"], require_solo5=False)
    assert Path(result["artifact"]).name == "hello.hvt"
    assert art.machine == tender.machine == os.uname().machine
    assert art.query_abi() == {"type": "solo5.abi", "target": "hvt", "version": 2}
    assert [d["name"] for d in art.query_manifest()["devices"]] == ["service"]
    assert (tmp_path / "hello.hvt").read_bytes() == Path(result["artifact"]).read_bytes()
    meta = result["meta"]
    assert meta["source_sha256"] and meta["image_id"].startswith("sha256:")
    assert meta["ocaml"] == "5.3.0" and meta["packages"]["mirage"] == "4.8.1"
    assert meta["tender_version"] == "v0.12.1"
    versions = next(e for e in events if e["event"] == "fact" and e["name"] == "versions")
    assert "OCaml 5.3.0" in versions["value"] and "ocaml-solo5 1.1.0" in versions["value"]
    assert not builder.docker("ps", "-aq", "--filter", "label=org.workbench.build=hello").strip()

    # The same source, image and flags again: the cached result, and no container at all.
    since = time.time()  # the builder's dockerd shares this machine's clock
    code, events, err = wb(tmp_path, "build", "--profile", str(path))
    assert code == 0, err
    assert finished(events) == ["docker", "arch", "image", "source"]
    again = next(e for e in events if e["event"] == "build_result")
    assert again["cached"] and again["artifact"] == result["artifact"]
    assert containers_created_since(since) == []


def test_failing_configure_stops_with_its_status_and_last_lines(lab, tmp_path):
    src = source_copy(tmp_path, config_ml='register "hello" [ main $ stack ]=>register "hello" [')
    code, events, err = wb(tmp_path, "build", "--profile", str(profile(tmp_path, src)))
    assert code == 6, err
    f = failed(events)
    assert f["step"] == "configure" and f["kind"] == "build"
    assert "`mirage configure -t hvt` failed on builder (exit 1)" in f["message"]
    assert "Error: Syntax error" in f["message"]
    assert "build" not in finished(events)
    assert not any(e["event"] == "build_result" for e in events)


def test_failing_make_build_names_the_source_line(lab, tmp_path):
    src = source_copy(
        tmp_path, unikernel_ml="let start s =>let start s = workbench_lab_build_error;"
    )
    code, events, err = wb(tmp_path, "build", "--profile", str(profile(tmp_path, src)))
    assert code == 6, err
    f = failed(events)
    assert f["step"] == "build"
    assert "`make build` failed on builder" in f["message"]
    assert "Unbound value workbench_lab_build_error" in f["message"]
    assert 'File "unikernel.ml", line' in f["message"]
    assert "depend" in finished(events)


def test_unreachable_builder_is_a_connect_error(lab, tmp_path):
    path = profile(tmp_path, source_copy(tmp_path), connect_timeout="3")
    path.write_text(path.read_text().replace("address: 10.213.0.3", "address: 10.213.0.250"))
    code, events, err = wb(tmp_path, "build", "--profile", str(path))
    assert code == 3, err
    f = failed(events)
    assert f["step"] == "docker" and f["host"] == "builder"
    assert "10.213.0.250:22: no answer within 3 s" in f["message"]


def test_image_missing_offline_says_how_to_provide_it(lab, tmp_path):
    image = "ocaml/opam:debian-12-ocaml-5.3"
    path = profile(tmp_path, source_copy(tmp_path), image=image)
    code, events, err = wb(tmp_path, "build", "--profile", str(path))
    assert code == 6, err
    f = failed(events)
    assert f["step"] == "image"
    assert f"image {image} is not on builder and cannot be pulled" in f["message"]
    assert f"docker save {image} | ssh 10.213.0.3 docker load" in f["hint"]


def test_deploy_from_source_builds_then_deploys_with_build_metadata(lab, tmp_path):
    src = source_copy(tmp_path)
    v = variant(tmp_path, 7)
    v.path.write_text(v.path.read_text().replace(str(HELLO), str(src)))
    try:
        code, events, err = wb(tmp_path, "deploy", "--profile", str(v.path), "--quiet")
        assert code == 0, err + json.dumps([e for e in events if e["event"] == "step_failed"])
        steps = [(e["host"], e["step"]) for e in events if e["event"] == "step_finished"]
        assert steps.index(("builder", "fetch")) < steps.index(("target", "upload"))
        assert [e for e in events if e["event"] == "health_result"][-1]["ok"]
        release = json.loads(on_target(f"cat {v.release_dir}/current/release.json").stdout)
        built = next(e for e in events if e["event"] == "build_result")
        assert release["build"]["source_sha256"] == built["meta"]["source_sha256"]
        assert release["artifact"]["sha256"] == inspect(built["artifact"]).sha256
        # Nothing changed: the cached build, and deploy changes nothing on the host.
        code, events, err = wb(tmp_path, "deploy", "--profile", str(v.path), "--quiet")
        assert code == 0, err
        assert next(e for e in events if e["event"] == "build_result")["cached"]
        assert not any(
            e["changed"] for e in events if e["event"] == "step_finished" and e["host"] == "target"
        )
        # An edit of the source (a comment) is a new build and a new release, as with a real
        # compiler: never "already deployed".
        (src / "unikernel.ml").write_text((src / "unikernel.ml").read_text() + "\n(* edit *)\n")
        code, events, err = wb(tmp_path, "deploy", "--profile", str(v.path), "--quiet")
        assert code == 0, err
        assert not next(e for e in events if e["event"] == "build_result")["cached"]
        (done,) = [e for e in events if e["event"] == "host_done" and e["host"] == "target"]
        assert done["changed"] and done["release"] != release["id"], done
    finally:
        remove(v)


def test_a_source_whose_health_page_fails_is_built_deployed_and_found_unhealthy(lab, tmp_path):
    """The page the source serves, not a page the lab makes up: a health route written to
    answer 500 fails the deploy's HTTP check with that status."""
    route = '"/health" -> ("200 OK", "ok\\n")=>"/health" -> ("500 Internal Server Error", "")'
    src = source_copy(tmp_path, unikernel_ml=route)
    v = variant(tmp_path, 8)
    v.path.write_text(
        v.path.read_text().replace(str(HELLO), str(src)).replace("timeout: 30", "timeout: 4")
    )
    try:
        code, events, err = wb(tmp_path, "deploy", "--profile", str(v.path), "--quiet")
        assert code == 8, err
        (result,) = [e for e in events if e["event"] == "health_result"]
        assert result["detail"] == (
            "not healthy after 4 s (http://10.0.8.2:8080/health: HTTP 500, expected 200)"
        )
    finally:
        remove(v)


def test_check_reads_the_builder_through_the_docker_api(lab, tmp_path):
    code, events, err = wb(tmp_path, "check", "--profile", "lab")
    facts = {e["name"]: e for e in events if e["event"] == "fact" and e["host"] == "builder"}
    assert facts["docker"]["ok"] and "reached over SSH" in facts["docker"]["value"]
    assert facts["image"]["ok"] and "workbench-lab/opam-double:latest" in facts["image"]["value"]

    image = "ocaml/opam:debian-12-ocaml-5.3"
    path = profile(tmp_path, source_copy(tmp_path), image=image)
    code, events, err = wb(tmp_path, "check", "--profile", str(path))
    assert code == 4, err
    facts = {e["name"]: e for e in events if e["event"] == "fact" and e["host"] == "builder"}
    assert facts["image"]["ok"] is False
    assert facts["image"]["value"] == f"{image} is not on the builder"
    assert "docker load" in facts["image"]["hint"]


def test_a_build_connects_its_targets_for_the_builders_arch(lab, tmp_path, monkeypatch):
    """Deploy from source: the targets are first connected by the build's arch check, so that
    is where their cipher is chosen (remote/ciphers.py) for the upload that follows; the build
    host, connected before its arch is known, keeps asyncssh's default order."""
    import asyncio

    from asyncssh.encryption import get_default_encryption_algs

    from workbench import profiles
    from workbench.engine.build import Build
    from workbench.remote import ciphers
    from workbench.remote.connection import Pool

    monkeypatch.setattr(ciphers, "ssh_config_text", lambda: "")  # not this machine's own
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    loaded = profiles.load(profile(tmp_path, source_copy(tmp_path)))

    async def go() -> tuple[list, str, str]:
        pool = Pool(loaded.profile.hosts)
        try:
            events = [e async for e in Build(loaded, pool, targets=["target"]).run()]
            target = (await pool.get("target").connection()).get_extra_info("send_cipher")
            build = (await pool.get("builder").connection()).get_extra_info("send_cipher")
            return events, target, build
        finally:
            await pool.close()

    events, target, build = asyncio.run(go())
    assert events[-1].ok, events[-1]
    assert target == "aes256-gcm@openssh.com"
    assert build == get_default_encryption_algs()[0].decode()
