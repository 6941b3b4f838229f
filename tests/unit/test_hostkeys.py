"""The host-key policy: every combination of unknown / known / changed / revoked / CA, with and
without --accept-new-host-key; then the whole path against an SSH server on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncssh
import pytest

from workbench.errors import ConnectError
from workbench.profiles.models import Host
from workbench.remote import hostkeys
from workbench.remote.connection import HostConnection
from workbench.remote.hostkeys import Verdict

A, B, CA = (asyncssh.generate_private_key("ssh-ed25519") for _ in range(3))
PUB = {k: k.convert_to_public() for k in (A, B, CA)}  # what a server presents
HOST, ADDR = "target.lab", "10.213.0.2"


def public(key: asyncssh.SSHKey) -> str:
    return key.export_public_key("openssh").decode().strip()


def known(*lines: str) -> asyncssh.SSHKnownHosts:
    return asyncssh.import_known_hosts("".join(line + "\n" for line in lines))


CASES = [
    # (what the file says, the key presented, verdict without opt-in, with opt-in)
    ((), A, Verdict.UNKNOWN, Verdict.ACCEPT_NEW),
    ((f"{ADDR} {public(A)}",), A, Verdict.TRUSTED, Verdict.TRUSTED),
    ((f"{ADDR} {public(A)}",), B, Verdict.CHANGED, Verdict.CHANGED),
    ((f"{HOST},{ADDR} {public(A)}",), B, Verdict.CHANGED, Verdict.CHANGED),
    ((f"@cert-authority {ADDR} {public(CA)}",), B, Verdict.CHANGED, Verdict.CHANGED),
    ((f"@revoked {ADDR} {public(B)}", f"{ADDR} {public(A)}"), B, Verdict.REVOKED, Verdict.REVOKED),
    ((f"@revoked {ADDR} {public(B)}",), A, Verdict.CHANGED, Verdict.CHANGED),
    ((f"10.213.0.9 {public(A)}",), B, Verdict.UNKNOWN, Verdict.ACCEPT_NEW),
    ((f"[{ADDR}]:2222 {public(A)}",), B, Verdict.UNKNOWN, Verdict.ACCEPT_NEW),  # other port
]


@pytest.mark.parametrize(("lines", "key", "plain", "opted_in"), CASES)
def test_policy(lines, key, plain, opted_in):
    k = known(*lines)
    assert hostkeys.verdict(k, ADDR, ADDR, 22, PUB[key], accept_new=False) is plain
    assert hostkeys.verdict(k, ADDR, ADDR, 22, PUB[key], accept_new=True) is opted_in


def test_a_port_specific_revoked_line_counts():
    """asyncssh's own lookup drops it when no trusted key matches the port."""
    k = known(f"@revoked [{ADDR}]:2222 {public(B)}")
    assert hostkeys.verdict(k, ADDR, ADDR, 2222, PUB[B], accept_new=True) is Verdict.REVOKED


def test_only_an_unknown_host_with_the_opt_in_is_accepted_unseen():
    accepted = {
        (i, flag)
        for i, c in enumerate(CASES)
        for flag, v in ((0, c[2]), (1, c[3]))
        if v.accepted and v is not Verdict.TRUSTED
    }
    assert accepted == {(0, 1), (7, 1), (8, 1)}


def test_a_missing_file_knows_no_keys(tmp_path):
    assert known().match(ADDR, ADDR, 22) == hostkeys.load(tmp_path / "nope").match(ADDR, ADDR, 22)


# -- the whole path, against an SSH server on loopback ---------------------------------------


@pytest.fixture
async def server(tmp_path):
    """An SSH server on 127.0.0.1 with host key B that lets our client key in."""
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    (tmp_path / "id").write_bytes(client_key.export_private_key())
    (tmp_path / "authorized").write_bytes(client_key.export_public_key())
    srv = await asyncssh.listen(
        "127.0.0.1",
        0,
        server_host_keys=[B],
        authorized_client_keys=str(tmp_path / "authorized"),
    )
    port = srv.sockets[0].getsockname()[1]
    yield port
    srv.close()
    await srv.wait_closed()


def host(tmp_path: Path, port: int, known_hosts: Path) -> Host:
    return Host(
        address="127.0.0.1",
        port=port,
        user="root",
        identity_file=tmp_path / "id",
        agent=False,
        known_hosts=known_hosts,
        connect_timeout=5,
    )


async def test_a_missing_profile_file_never_falls_back_to_other_files(
    server, tmp_path, monkeypatch
):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    # ~/.ssh/known_hosts trusts the very key the server presents: still not the profile's file
    (home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{server} {public(B)}\n")
    monkeypatch.setenv("HOME", str(home))
    profile_file = tmp_path / "profile_known_hosts"
    conn = HostConnection("t", host(tmp_path, server, profile_file))
    with pytest.raises(ConnectError) as err:
        await conn.connection()
    assert "unknown host key for 127.0.0.1" in err.value.message
    assert str(profile_file) in err.value.message
    assert not profile_file.exists()


async def test_a_changed_key_is_refused_even_with_the_opt_in(server, tmp_path):
    profile_file = tmp_path / "known_hosts"
    profile_file.write_text(f"[127.0.0.1]:{server} {public(A)}\n")
    before = profile_file.read_text()
    conn = HostConnection("t", host(tmp_path, server, profile_file), accept_new_host_key=True)
    with pytest.raises(ConnectError) as err:
        await conn.connection()
    assert "has CHANGED" in err.value.message
    assert profile_file.read_text() == before


async def test_a_host_known_through_a_ca_is_not_new(server, tmp_path):
    profile_file = tmp_path / "known_hosts"
    profile_file.write_text(f"@cert-authority [127.0.0.1]:{server} {public(CA)}\n")
    before = profile_file.read_text()
    conn = HostConnection("t", host(tmp_path, server, profile_file), accept_new_host_key=True)
    with pytest.raises(ConnectError) as err:
        await conn.connection()
    assert "trusts an @cert-authority for this host" in err.value.message
    assert profile_file.read_text() == before


async def test_a_revoked_key_is_refused(server, tmp_path):
    profile_file = tmp_path / "known_hosts"
    profile_file.write_text(f"@revoked [127.0.0.1]:{server} {public(B)}\n")
    conn = HostConnection("t", host(tmp_path, server, profile_file), accept_new_host_key=True)
    with pytest.raises(ConnectError) as err:
        await conn.connection()
    assert "REVOKED" in err.value.message


async def test_an_unknown_host_with_the_opt_in_is_recorded_and_then_trusted(server, tmp_path):
    profile_file = tmp_path / "known_hosts"
    conn = HostConnection("t", host(tmp_path, server, profile_file), accept_new_host_key=True)
    ssh = await conn.connection()
    ssh.close()
    assert profile_file.read_text() == f"[127.0.0.1]:{server} {public(B)}\n"
    again = HostConnection("t", host(tmp_path, server, profile_file))
    (await again.connection()).close()


def test_sudo_runs_in_the_c_locale(tmp_path):
    """Its refusal ('a password is required') is recognised by its text: the same on every host
    only in the C locale."""
    conn = HostConnection("t", host(tmp_path, 22, tmp_path / "kh").model_copy(update={"user": "u"}))
    assert conn._argv(["true"], None).startswith("env LC_ALL=C sudo -n -- true")


async def test_a_jump_cycle_ends_at_the_deadline_not_in_a_deadlock(tmp_path):
    """The loader refuses jump cycles; the connection has its own deadline anyway, so a pool
    built some other way cannot hang forever on its own lock (a -> b -> a)."""
    from workbench.remote.connection import Pool

    a = host(tmp_path, 22, tmp_path / "kh").model_copy(update={"jump": "b", "connect_timeout": 0.5})
    b = a.model_copy(update={"jump": "a"})
    pool = Pool({"a": a, "b": b})
    with pytest.raises(ConnectError, match="not connected within"):
        await asyncio.wait_for(pool.get("a").connection(), 60)


def test_a_host_known_by_name_is_matched_by_its_name_and_its_address_by_its_address():
    by_name = known(f"{HOST} {public(A)}")
    assert hostkeys.verdict(by_name, HOST, ADDR, 22, PUB[A], accept_new=False) is Verdict.TRUSTED
    assert hostkeys.verdict(by_name, HOST, ADDR, 22, PUB[B], accept_new=True) is Verdict.CHANGED
    # reached by another name, the same address is still unknown to this file
    other = hostkeys.verdict(by_name, "other.lab", ADDR, 22, PUB[B], accept_new=True)
    assert other is Verdict.ACCEPT_NEW


@pytest.mark.parametrize("name", [HOST, ADDR])
def test_keys_on_another_port_are_that_port_s(name):
    k = known(f"[{name}]:2222 {public(A)}")
    assert hostkeys.verdict(k, HOST, ADDR, 2222, PUB[A], accept_new=False) is Verdict.TRUSTED
    assert hostkeys.verdict(k, HOST, ADDR, 2222, PUB[B], accept_new=True) is Verdict.CHANGED
    assert hostkeys.verdict(k, HOST, ADDR, 22, PUB[A], accept_new=False) is Verdict.UNKNOWN


@pytest.mark.parametrize("name", [HOST, ADDR])
def test_a_port_specific_revoked_line_counts_by_name_or_address(name):
    k = known(f"@revoked [{name}]:2222 {public(B)}")
    assert hostkeys.verdict(k, HOST, ADDR, 2222, PUB[B], accept_new=True) is Verdict.REVOKED
    assert hostkeys.verdict(k, HOST, ADDR, 2222, PUB[A], accept_new=True) is Verdict.CHANGED


def test_only_trusted_and_accepted_new_keys_are_accepted():
    assert {v for v in Verdict if v.accepted} == {Verdict.TRUSTED, Verdict.ACCEPT_NEW}


def test_a_malformed_file_is_an_error_that_names_it(tmp_path):
    path = tmp_path / "known_hosts"
    path.write_text(f"@bogus {ADDR} {public(A)}\n")  # asyncssh refuses an unknown marker
    with pytest.raises(ConnectError) as caught:
        hostkeys.load(path)
    assert caught.value.message.startswith(f"cannot read the known hosts file {path}: ")
    assert caught.value.hint == (
        f"fix or remove the bad line in {path} (ssh-keygen -F HOST -f {path} shows a host's)"
    )


def test_an_accepted_key_is_appended_in_openssh_form_and_then_trusted(tmp_path):
    path = tmp_path / "ssh" / "known_hosts"
    hostkeys.append(path, ADDR, 22, PUB[A])
    hostkeys.append(path, HOST, 2222, PUB[B])
    assert path.read_text() == f"{ADDR} {public(A)}\n[{HOST}]:2222 {public(B)}\n"
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    k = hostkeys.load(path)
    assert hostkeys.verdict(k, ADDR, ADDR, 22, PUB[A], accept_new=False) is Verdict.TRUSTED
    assert hostkeys.verdict(k, HOST, ADDR, 2222, PUB[B], accept_new=False) is Verdict.TRUSTED
