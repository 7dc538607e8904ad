"""Issue #4, "done when" 1: no certificate, another CA's certificate, an expired (or not yet
valid) one and a revoked one are each refused before any record is exchanged, with a
clear reason in the relay's log, and the node gets a failed SessionResult with a code
that says why.

"Before any record is exchanged" is checked on both sides: the relay's document count and
seq are unchanged (nothing of the node was stored) and the node's documents are unchanged
(it received nothing), although the relay holds documents of the node's own village.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from node import Node
from node.config import Home
from node.identity import keys_of, provision_file
from relay.ca import cert_pem, issue, new_node_id, private_pem
from relay.config import RelayHome
from relay.enrol import write_enrol_file
from relay.revoke import revoke
from store.records import Party
from sync.errors import TransportClosed
from sync.scopes import Identity
from sync.tls import client_context

A = "village:KC/A"


async def _village_a_at_relay(county, enrol, sec: SimpleNamespace, n: int = 3) -> Node:
    """Node a1 with ``n`` cases, synced: the relay then holds documents a refused node of
    village A would be allowed to read if it were let in."""
    a1 = await enrol("a1")
    for i in range(n):
        await a1.cases.register(category="neighbour", title=f"宅基地纠纷 {i}",
                                parties=[Party("applicant", "张三"), Party("respondent", "李四")])
    res = await sec.sync_relay(a1)
    assert res.ok, res.error
    assert len(await sec.doc_heads(county.store, A)) == n + 1  # + the village profile
    return a1


def _relay_log(caplog: pytest.LogCaptureFixture, event: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if f"event={event}" in r.getMessage()]


async def test_no_certificate_is_refused_before_any_record(
        county, enrol, sec, caplog, tmp_path: Path) -> None:
    caplog.set_level(logging.INFO)
    await _village_a_at_relay(county, enrol, sec)
    # A machine of village A that trusts the county CA but has no certificate of its own.
    n0 = await Node.create(tmp_path / "n0", village="A", village_name="甲村", county="KC")
    try:
        await n0.cases.register(category="land", title="未登记机器的案件",
                                parties=[Party("applicant", "孙七")])
        me = Identity(n0.config.node_id, "director", "KC", "A")
        relay_before = await sec.store_state(county.store)
        node_before = await sec.doc_heads(n0.store)
        caplog.clear()

        res = await sec.sync_with_context(n0.store, me, county.sync_url,
                                          client_context(county.home.ca.ca_cert_file))

        assert not res.ok
        assert res.error is not None and res.error.code == "no_certificate", res.error
        assert res.counters.docs_received == 0 and res.counters.docs_sent == 0
        assert await sec.store_state(county.store) == relay_before
        assert await sec.doc_heads(n0.store) == node_before
    finally:
        await n0.close()
    refused = _relay_log(caplog, "sync_refused")
    assert len(refused) == 1 and "code=no_certificate" in refused[0], refused
    assert county.metrics.refusals["no_certificate"] == 1
    assert not _relay_log(caplog, "sync_session")  # no session ran at all


async def test_certificate_of_another_ca_is_refused_at_the_handshake(
        county, enrol, sec, caplog, tmp_path: Path) -> None:
    """Same county code, different CA: a certificate that looks right but was not issued
    by this relay's CA. The client trusts the real CA, so only the relay can refuse."""
    caplog.set_level(logging.INFO)
    await _village_a_at_relay(county, enrol, sec)
    impostor_ca = RelayHome(tmp_path / "impostor")
    impostor_ca.init("KC", host="127.0.0.1", port=0)
    key = ed25519.Ed25519PrivateKey.generate()
    cert = issue(impostor_ca.ca.key(), impostor_ca.ca.cert(), key.public_key(),
                 Identity(new_node_id(), "director", "KC", "A"))
    (tmp_path / "x.key").write_bytes(private_pem(key))
    (tmp_path / "x.pem").write_bytes(cert_pem(cert))
    ctx = client_context(county.home.ca.ca_cert_file, tmp_path / "x.pem", tmp_path / "x.key")

    n0 = await Node.create(tmp_path / "n0", village="A", village_name="甲村", county="KC")
    try:
        relay_before = await sec.store_state(county.store)
        node_before = await sec.doc_heads(n0.store)
        caplog.clear()
        with pytest.raises(TransportClosed) as info:
            await sec.sync_with_context(n0.store, Identity("x", "director", "KC", "A"),
                                        county.sync_url, ctx)
        assert info.value.details.get("reason") == "connect_failed"
        assert await sec.store_state(county.store) == relay_before
        assert await sec.doc_heads(n0.store) == node_before
    finally:
        await n0.close()
    refused = _relay_log(caplog, "tls_refused")
    assert refused and all("unable to get local issuer certificate" in m for m in refused), \
        refused
    assert county.metrics.refusals["tls_handshake"] >= 1


async def test_node_of_another_county_is_refused_both_ways(
        county, enrol, sec, caplog, tmp_path: Path) -> None:
    """A real node of county QZ (enrolled offline at its own relay) pointed at our relay:
    it refuses our relay's certificate, our relay refuses its, nothing moves."""
    caplog.set_level(logging.INFO)
    await _village_a_at_relay(county, enrol, sec)
    qz = RelayHome(tmp_path / "qz-relay")
    qz.init("QZ", host="127.0.0.1", port=0)
    enrol_file = tmp_path / "qz.enrol"
    code = write_enrol_file(enrol_file, qz.ca, "QZ", "A", "director", county.sync_url)
    provision_file(Home(tmp_path / "qz-node"), enrol_file, code)
    stranger = await Node.open(tmp_path / "qz-node")
    try:
        await stranger.cases.register(category="loan", title="外县借贷",
                                      parties=[Party("applicant", "周八")])
        relay_before = await sec.store_state(county.store)
        node_before = await sec.doc_heads(stranger.store)
        caplog.clear()
        res = await sec.sync_relay(stranger)
        assert not res.ok
        assert res.error is not None and res.error.code == "wrong_county", res.error
        assert "certificate" in str(res.error)
        assert res.counters.docs_received == 0 and res.counters.docs_sent == 0
        assert await sec.store_state(county.store) == relay_before
        assert await sec.doc_heads(stranger.store) == node_before
        assert not [s for s in (await sec.doc_scopes(county.store)).values() if "QZ" in s]
        last = (await stranger.store.sync_log(limit=1))[0]
        assert last["ok"] == 0 and last["error_code"] == "wrong_county"
    finally:
        await stranger.close()
    # The node broke the handshake off first (it does not trust our CA); the relay still
    # logs the refused connection. No session ran.
    assert _relay_log(caplog, "tls_refused")
    assert not _relay_log(caplog, "sync_session") and not _relay_log(caplog, "sync_refused")


@pytest.mark.parametrize("starts_in, days, code, tls_reason", [
    (dt.timedelta(days=-10), 1, "expired", "certificate has expired"),
    (dt.timedelta(days=2), 30, "not_yet_valid", "certificate is not yet valid"),
], ids=["expired", "not_yet_valid"])
async def test_certificate_outside_its_validity_is_refused(
        county, enrol, sec, caplog, tmp_path: Path, starts_in: dt.timedelta, days: int,
        code: str, tls_reason: str) -> None:
    caplog.set_level(logging.INFO)
    await _village_a_at_relay(county, enrol, sec)
    ax = await enrol("ax")
    await ax.cases.register(category="family", title="过期证书机器的案件",
                            parties=[Party("applicant", "吴九")])
    sec.rewrite_certificate(tmp_path / "ax", county.home, starts_in=starts_in, days=days)
    relay_before = await sec.store_state(county.store)
    node_before = await sec.doc_heads(ax.store)
    caplog.clear()

    res = await sec.sync_relay(ax)

    assert not res.ok
    assert res.error is not None and res.error.code == code, res.error
    assert res.counters.docs_received == 0 and res.counters.docs_sent == 0
    assert await sec.store_state(county.store) == relay_before
    assert await sec.doc_heads(ax.store) == node_before
    refused = _relay_log(caplog, "tls_refused")
    assert refused and all(tls_reason in m for m in refused), refused
    # The node's own sync log says why, for `villagecourt status` and the TUI.
    last = (await ax.store.sync_log(limit=1))[0]
    assert last["ok"] == 0 and last["error_code"] == code


async def test_revoked_node_is_refused_before_any_record(
        county, enrol, sec, caplog) -> None:
    caplog.set_level(logging.INFO)
    a1 = await _village_a_at_relay(county, enrol, sec)
    ar = await enrol("ar")
    assert (await sec.sync_relay(ar)).ok  # a node that was fine until today
    ar_id = keys_of(ar.home).identity().node_id
    assert await revoke(county.store, county.home.ca, "KC", ar_id, reason="laptop stolen") == 1

    # New work in the village after the revocation, and on the revoked machine.
    new_case = await a1.cases.register(category="neighbour", title="吊销之后的案件",
                                       parties=[Party("applicant", "郑十")])
    assert (await sec.sync_relay(a1)).ok
    await ar.cases.register(category="other", title="被吊销机器想上传的案件",
                            parties=[Party("applicant", "冯一")])
    relay_before = await sec.store_state(county.store)
    node_before = await sec.doc_heads(ar.store)
    caplog.clear()

    res = await sec.sync_relay(ar)

    assert not res.ok
    assert res.error is not None and res.error.code == "revoked", res.error
    assert res.counters.docs_received == 0 and res.counters.docs_sent == 0
    assert await sec.store_state(county.store) == relay_before
    assert await sec.doc_heads(ar.store) == node_before
    assert new_case.doc_id not in await sec.doc_heads(ar.store)
    refused = _relay_log(caplog, "sync_refused")
    assert len(refused) == 1 and "code=revoked" in refused[0] and ar_id in refused[0], refused
    assert county.metrics.refusals["revoked"] == 1

    # The relay keeps serving the rest of the village.
    res = await sec.sync_relay(a1)
    assert res.ok, res.error
