"""Records made the way the portal makes them."""

from verification.models import VerificationSession


def new_session(*, realname: str = "", idcard: str = "", **fields) -> VerificationSession:
    """A saved session; a name and ID number go in as services put them
    (set_identity keeps the ID number's search hash in step)."""
    session = VerificationSession(**fields)
    session.set_identity(realname=realname, idcard=idcard)
    session.save(force_insert=True)
    return session
