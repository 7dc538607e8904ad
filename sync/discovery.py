"""LAN discovery: announce this node and find other villagecourt nodes with mDNS/DNS-SD.

This module owns the zeroconf side of finding peers on the village LAN. It tells the sync
loop *where* a peer says it is; it decides nothing about trust. Who a peer really is comes
from its certificate in the mutual-TLS handshake (``sync.auth``), never from these records.

Rules
1. One service type, ``_villagecourt._tcp.local.``; our instance is ``vc-<node id>``.
2. The TXT record holds exactly four keys and never personal data: ``id`` (node id),
   ``scope`` (the node's village scope, e.g. ``village:KC/BY``), ``v`` (sync protocol
   version) and ``port`` (the sync port, the same as the SRV port). The constructor takes
   no free-form properties, so nothing else can leak into the LAN.
3. An announcement that does not parse (missing key, bad scope, port disagreeing with
   SRV...) is ignored with one warning log line naming the instance; it never reaches
   the sync loop. Our own announcement is ignored.
4. Events: ``PeerFound`` when a peer appears or its record changes, ``PeerLost`` when it
   says goodbye (``stop()``) or its records expire. They go to ``on_event`` when given,
   otherwise to the ``events`` queue.

How it works: an AsyncServiceBrowser calls back on every Added/Updated/Removed service;
Added/Updated start a resolve task (SRV + TXT + A records, from the cache when fresh);
a generation number per instance drops a resolve that a later Removed overtook. Records
are announced with a short TTL so a node that vanishes without a goodbye (power cut)
is dropped within minutes rather than after zeroconf's 75-minute default.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import ifaddr
from zeroconf import (
    InterfaceChoice,
    NonUniqueNameException,
    ServiceStateChange,
    Zeroconf,
)
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from store.errors import StoreError
from store.records import check_scope

log = logging.getLogger(__name__)

SERVICE_TYPE = "_villagecourt._tcp.local."

# TXT keys: short, since every announcement carries them (RFC 6763 §6.2 asks for < 200 B).
TXT_NODE_ID = "id"
TXT_SCOPE = "scope"
TXT_VERSION = "v"
TXT_PORT = "port"

# Milliseconds to wait for a peer's SRV/TXT/A answers after its PTR appears. Answers on a
# LAN come in well under a second; 3 s is zeroconf's own default for get_service_info.
RESOLVE_TIMEOUT_MS = 3000

# Seconds our records live in other nodes' caches. RFC 6762 suggests 120 s for host
# records and 75 min for the rest; using 120 s for all means a node that dies without a
# goodbye disappears from its peers within ~2 minutes (browsers re-query at 80% of TTL),
# at the cost of a few more packets per node per minute.
RECORD_TTL_S = 120

_NODE_ID = re.compile(r"^[A-Za-z0-9_-]{1,48}$")  # DNS label "vc-" + id must stay <= 63


@dataclass(frozen=True)
class PeerFound:
    """A peer announced itself (or changed its announcement)."""

    node_id: str
    village_scope: str
    host: str  # first announced address, the one to dial
    port: int
    protocol_version: int = 0
    addresses: tuple[str, ...] = ()  # every announced address, host first


@dataclass(frozen=True)
class PeerLost:
    """A peer said goodbye or its records expired."""

    node_id: str


PeerEvent = PeerFound | PeerLost


@dataclass(frozen=True)
class Announcement:
    """The parsed TXT record of one instance."""

    node_id: str
    village_scope: str
    protocol_version: int
    port: int


def build_txt(announcement: Announcement) -> dict[str, str]:
    """The TXT properties for our announcement: exactly the four keys of rule 2."""
    return {
        TXT_NODE_ID: announcement.node_id,
        TXT_SCOPE: announcement.village_scope,
        TXT_VERSION: str(announcement.protocol_version),
        TXT_PORT: str(announcement.port),
    }


def parse_txt(properties: Mapping[bytes, bytes | None]) -> Announcement:
    """Parse a peer's TXT properties; ValueError says what is wrong. Unknown keys are
    allowed (a later version may add some), missing or malformed ones are not."""
    values: dict[str, str] = {}
    for key in (TXT_NODE_ID, TXT_SCOPE, TXT_VERSION, TXT_PORT):
        raw = properties.get(key.encode())
        if raw is None:
            raise ValueError(f"TXT key {key!r} is missing or has no value")
        try:
            values[key] = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"TXT key {key!r} is not UTF-8") from None
    node_id = values[TXT_NODE_ID]
    if not _NODE_ID.fullmatch(node_id):
        raise ValueError(f"node id {node_id!r} is not 1-48 letters, digits, '-' or '_'")
    try:
        scope = check_scope(values[TXT_SCOPE])
    except StoreError as exc:
        raise ValueError(str(exc)) from None
    version = _small_int(values[TXT_VERSION], "protocol version")
    port = _small_int(values[TXT_PORT], "port")
    return Announcement(node_id, scope, version, port)


def _small_int(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{what} {text!r} is not a number from 1 to 65535")
    return int(text)


def local_addresses() -> list[str]:
    """This machine's IPv4 addresses to announce: every non-loopback one, or loopback
    when there is no other (a laptop with no network still finds its own test peers)."""
    found = [ip.ip for adapter in ifaddr.get_adapters() for ip in adapter.ips
             if ip.is_IPv4 and isinstance(ip.ip, str)]
    outside = [a for a in found if not ipaddress.ip_address(a).is_loopback]
    return sorted(set(outside)) or ["127.0.0.1"]


class Discovery:
    """Announce this node and report other nodes on the LAN.

    ``interfaces``: IP addresses to use (``["127.0.0.1"]`` in tests); None means all.
    ``addresses``: what to announce; by default the ``interfaces`` themselves, or every
    non-loopback IPv4 address. ``announce=False`` only browses (a relay dashboard, say).
    """

    def __init__(self, *, node_id: str, village_scope: str, port: int, protocol_version: int,
                 interfaces: Sequence[str] | None = None,
                 addresses: Sequence[str] | None = None,
                 on_event: Callable[[PeerEvent], None] | None = None,
                 announce: bool = True) -> None:
        self._me = Announcement(node_id, village_scope, protocol_version, port)
        parse_txt({k.encode(): v.encode() for k, v in build_txt(self._me).items()})  # rule 2
        self._interfaces = list(interfaces) if interfaces is not None else None
        if addresses is None:
            addresses = self._interfaces if self._interfaces is not None else local_addresses()
        self._addresses = [a for a in addresses if _is_ip(a)]
        self._on_event = on_event
        self._announce = announce
        self.instance_name = f"vc-{node_id}.{SERVICE_TYPE}"
        self.events: asyncio.Queue[PeerEvent] = asyncio.Queue()
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._info: AsyncServiceInfo | None = None
        self._by_name: dict[str, PeerFound] = {}  # instance name -> last PeerFound
        self._generation: dict[str, int] = {}  # instance name -> bumped on each Removed
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def peers(self) -> dict[str, PeerFound]:
        """The peers seen now, by node id."""
        return {p.node_id: p for p in self._by_name.values()}

    async def start(self) -> None:
        """Start browsing, then announce (returns once the announcement went out, ~1.5 s:
        mDNS probes the name three times 250 ms apart before claiming it)."""
        if self._zc is not None:
            return
        interfaces = self._interfaces if self._interfaces is not None else InterfaceChoice.All
        self._zc = AsyncZeroconf(interfaces=interfaces)
        try:
            self._browser = AsyncServiceBrowser(self._zc.zeroconf, SERVICE_TYPE,
                                                handlers=[self._on_change])
            if self._announce:
                self._info = AsyncServiceInfo(
                    SERVICE_TYPE, self.instance_name, port=self._me.port,
                    properties=build_txt(self._me), server=f"vc-{self._me.node_id}.local.",
                    parsed_addresses=self._addresses, host_ttl=RECORD_TTL_S,
                    other_ttl=RECORD_TTL_S)
                try:
                    await self._zc.async_register_service(self._info)
                except NonUniqueNameException:
                    raise RuntimeError(
                        f"another node on this LAN already announces {self.instance_name}; "
                        "two nodes share a node id (a copied node home?)") from None
                log.info("announced %s on %s port %d", self._me.node_id,
                         ", ".join(self._addresses), self._me.port)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Say goodbye (peers see PeerLost at once) and stop browsing. Idempotent."""
        zc, self._zc = self._zc, None
        if zc is None:
            return
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await zc.async_close()  # unregisters our service, which sends the goodbye
        self._info = None
        self._by_name.clear()

    async def __aenter__(self) -> Discovery:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- browsing -----------------------------------------------------------------------

    def _on_change(self, zeroconf: Zeroconf, service_type: str, name: str,
                   state_change: ServiceStateChange) -> None:
        # Called by zeroconf with these keyword names, on the event loop, synchronously.
        if name == self.instance_name:
            return
        if state_change is ServiceStateChange.Removed:
            self._generation[name] = self._generation.get(name, 0) + 1
            found = self._by_name.pop(name, None)
            if found is not None:
                log.info("peer %s left", found.node_id)
                self._emit(PeerLost(found.node_id))
            return
        task = asyncio.get_running_loop().create_task(
            self._resolve(zeroconf, service_type, name, self._generation.get(name, 0)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resolve(self, zeroconf: Zeroconf, service_type: str, name: str,
                       generation: int) -> None:
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(zeroconf, RESOLVE_TIMEOUT_MS):
            log.info("no answer from %s within %d ms; ignored", name, RESOLVE_TIMEOUT_MS)
            return
        if self._generation.get(name, 0) != generation:
            return  # removed while we were asking
        try:
            ann = parse_txt(info.properties)
            if ann.port != info.port:
                raise ValueError(f"TXT port {ann.port} differs from SRV port {info.port}")
            addresses = info.parsed_addresses()
            if not addresses:
                raise ValueError("no address records")
        except ValueError as exc:
            log.warning("ignored announcement %s: malformed: %s", name, exc)
            return
        if ann.node_id == self._me.node_id:
            log.warning("ignored announcement %s: it claims our own node id", name)
            return
        found = PeerFound(ann.node_id, ann.village_scope, addresses[0], ann.port,
                          ann.protocol_version, tuple(addresses))
        if self._by_name.get(name) == found:
            return
        self._by_name[name] = found
        log.info("found peer %s (%s) at %s:%d", found.node_id, found.village_scope,
                 found.host, found.port)
        self._emit(found)

    def _emit(self, event: PeerEvent) -> None:
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:  # a handler's bug must not stop discovery (logged)
                log.exception("discovery event handler failed on %r", event)
        else:
            self.events.put_nowait(event)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


__all__ = [
    "SERVICE_TYPE", "Announcement", "Discovery", "PeerEvent", "PeerFound", "PeerLost",
    "build_txt", "local_addresses", "parse_txt",
]
