"""Records made the way the portal makes them."""

from verification.models import VerificationSession


def new_session(*, realname: str = "", idcard: str = "", **fields) -> VerificationSession:
    """A saved session; a name and ID number go in as services put them
    (set_identity keeps the ID number's search hash in step)."""
    session = VerificationSession(**fields)
    session.set_identity(realname=realname, idcard=idcard)
    session.save(force_insert=True)
    return session


def challenge_shown_ago(session: VerificationSession, seconds: float = 20) -> None:
    """As if the session's challenge had been issued `seconds` ago: a clip
    cannot be longer than the time since its challenge (services.uploads),
    so a test that uploads a six-second clip at once moves the issue back."""
    from datetime import timedelta

    from django.utils import timezone

    VerificationSession.objects.filter(pk=session.pk).exclude(challenge_kind="").update(
        challenge_issued_at=timezone.now() - timedelta(seconds=seconds)
    )
