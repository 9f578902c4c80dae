"""What the sandbox's emulated vendors (and its demo integrator) do alike
when they read a request and answer it. Each vendor module keeps only its
vendor's protocol: its codes, its messages, its checks."""

from urllib.parse import urlsplit


def origin(url: str) -> str:
    """`scheme://host[:port]` of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
