"""The order `"method": "auto"` tries methods in: checked when a client's
order is set (create_api_client --methods, the back office) and when a
session is created (`methods`, or the client's). services.routing uses it."""

from ..methods import REGISTRY

AUTO = "auto"


def method_order_problems(methods, *, field: str = "methods") -> tuple[list[str], dict[str, str]]:
    """A method order as sent (a list of registry names, each once), and
    what is wrong with it by field."""
    if not isinstance(methods, list) or not all(isinstance(name, str) for name in methods):
        return [], {field: "must be a list of method names"}
    unknown = [name for name in methods if name not in REGISTRY]
    if unknown:
        return [], {field: f"unknown method(s): {', '.join(unknown)}; each one of {', '.join(REGISTRY)}"}
    if len(set(methods)) != len(methods):
        return [], {field: "names a method twice"}
    if not methods:
        return [], {field: "must name at least one method"}
    return list(methods), {}


def auto_order(*, client, methods, realname: str, idcard: str, has_reference_photo: bool) -> tuple[list[str], dict]:
    """The methods an `auto` session may run, in order: the request's
    `methods` or else the client's, less those that cannot run with what
    the session holds (a method needing a name and ID number without them,
    one that takes no reference photo when one was sent)."""
    if methods is None:
        methods = list(client.methods) if client is not None else []
        if not methods:
            return [], {"methods": "required with method auto: this API client has no method order "
                                   "(send methods, or ask the operator: create_api_client --methods)"}
    order, errors = method_order_problems(methods)
    if errors:
        return [], errors
    usable = [
        name for name in order
        if not REGISTRY[name].requirement_errors(realname=realname, idcard=idcard,
                                                 has_reference_photo=has_reference_photo)
    ]
    if not usable:
        return [], {"methods": "none of these methods can run for this session (those needing realname and "
                               "idcard were left out, and a reference_photo rules out those that take none)"}
    return usable, {}
