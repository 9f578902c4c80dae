"""Reading a Content-Security-Policy header as a browser does.

    from tests.support.policy import csp

    assert csp(response)["frame-ancestors"] == ["'none'"]
"""


def parse_policy(header: str) -> dict[str, list[str]]:
    """`{directive: [source, …]}` of one serialized policy; a repeated
    directive is ignored after its first occurrence, as CSP3 §2.2.1 says."""
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        tokens = part.split()
        if tokens and tokens[0].lower() not in directives:
            directives[tokens[0].lower()] = tokens[1:]
    return directives


def csp(response) -> dict[str, list[str]]:
    """The enforced policy of a Django test response (or a `requests` one)."""
    return parse_policy(response.headers["Content-Security-Policy"])

