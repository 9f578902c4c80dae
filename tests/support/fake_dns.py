"""A resolver the test controls, so no test asks a real DNS server and a
test can make a name resolve to what an attacker would (127.0.0.1, or a
public address first and a private one the next time: DNS rebinding)."""

import ipaddress
import socket


class FakeDns:
    """Patches socket.getaddrinfo. Names given to `answer` get their answers
    in turn, one per lookup, the last repeating; address literals (in any
    form the C library reads as one, such as 2130706433 or 127.1) and
    `localhost` go to the real resolver, which asks no DNS server for
    them; any other name does not resolve. `lookups` counts lookups per name."""

    def __init__(self, monkeypatch):
        self._real = socket.getaddrinfo
        self._answers: dict[str, list[list[str]]] = {}
        self.lookups: dict[str, int] = {}
        monkeypatch.setattr(socket, "getaddrinfo", self._getaddrinfo)

    def answer(self, name: str, *answers: list[str]) -> None:
        self._answers[name.lower()] = [list(a) for a in answers]

    def _getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name == "localhost" or self._is_literal(name):
            return self._real(host, port, family, type, proto, flags)
        self.lookups[name.lower()] = self.lookups.get(name.lower(), 0) + 1
        turns = self._answers.get(name.lower())
        if not turns:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        addresses = turns[min(self.lookups[name.lower()], len(turns)) - 1]
        return [_info(address, port) for address in addresses]

    def _is_literal(self, name: str) -> bool:
        try:
            self._real(name, None, flags=socket.AI_NUMERICHOST)
        except socket.gaierror:
            return False
        return True


def _info(address: str, port):
    if ipaddress.ip_address(address).version == 6:
        return (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port or 0), 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port or 0)))
