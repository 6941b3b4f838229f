"""The cipher a connection asks for first (workbench/remote/ciphers.py)."""

from __future__ import annotations

import pytest

from workbench.remote.ciphers import AES_FIRST, cipher_preference


def test_aes_gcm_first_only_for_x86_64_hosts() -> None:
    assert cipher_preference("x86_64", "") == AES_FIRST
    assert AES_FIRST.startswith("^")  # prepended: asyncssh's defaults stay allowed
    assert cipher_preference("aarch64", "") is None  # a Pi has no AES instructions
    assert cipher_preference(None, "") is None
    assert cipher_preference("x86_64", "Host x\n  # no Ciphers here\n  User me\n") == AES_FIRST


@pytest.mark.parametrize(
    "config",
    [
        "Host pi\n  Ciphers aes256-ctr\n",
        "Host *\n  ciphers=chacha20-poly1305@openssh.com\n",
        "Include ~/.ssh/config.d/*\n",  # it may hold a Ciphers line (e.g. against Terrapin)
        "  include other\n",
    ],
)
def test_a_users_cipher_choice_is_never_overridden(config: str) -> None:
    assert cipher_preference("x86_64", config) is None
