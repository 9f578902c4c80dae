"""Web origins (`scheme://host[:port]`) in one canonical form, as
`frame-ancestors`, `postMessage` and CORS-like checks compare them."""

from urllib.parse import urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(value) -> str | None:
    """`scheme://host[:port]` in canonical form (lower case, default port
    dropped), or None when `value` is not exactly an http(s) origin: a path,
    query, fragment, user name or wildcard is refused, since
    `frame-ancestors` and `postMessage` compare whole origins."""
    if not isinstance(value, str):
        return None
    value = value.strip().removesuffix("/")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or "*" in value:
        return None
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def clean_origins(values) -> list[str]:
    """The origins in canonical form, without repeats; ValueError names the
    first value that is not an origin."""
    origins = []
    for value in values:
        origin = normalise_origin(value)
        if origin is None:
            raise ValueError(f"not an origin (scheme://host[:port], no path): {value}")
        if origin not in origins:
            origins.append(origin)
    return origins


def origin_of(url: str) -> str | None:
    """The origin a URL belongs to, in the form `normalise_origin` gives."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return normalise_origin(urlunsplit((parts.scheme, parts.netloc, "", "", "")))
