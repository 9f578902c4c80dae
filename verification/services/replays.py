"""Recordings and photos sent again: the same file (its SHA-256), or the
same recording in other bytes (padded, re-muxed, re-encoded: a near
fingerprint), within one API client. Sessions without a client form one
group; one client's uploads never decide another's."""

from django.db import models

from .. import media
from ..models import FingerprintBand, Submission, VerificationSession

# Submissions sharing the most bands with a fingerprint that are compared
# with it in full: a copy shares many (all, when padded or re-muxed), while
# unrelated pictures share a band by chance (a plain wall gives the same one).
CANDIDATES = 50


def sent_before(*, sha256: str, session: VerificationSession) -> bool:
    """Whether these very bytes were submitted before within the client."""
    return Submission.objects.filter(content_sha256=sha256, session__client_id=session.client_id).exists()


def find_copy(*, fingerprint: media.Fingerprint, session: VerificationSession) -> bool:
    """Whether a submission of another session of the same API client has a
    near fingerprint: the same recording or photo sent again.

    A session's own submissions are not compared: a second attempt is the
    same person, most often in the same place and pose, where a near picture
    is no sign of a replay (and a lip code or digits are new in each attempt)."""
    candidates = (
        FingerprintBand.objects.filter(client_id=session.client_id, key__in=fingerprint.band_keys())
        .exclude(submission__session=session)
        .values("submission_id").annotate(shared=models.Count("id")).order_by("-shared")[:CANDIDATES]
    )
    stored = Submission.objects.filter(pk__in=[row["submission_id"] for row in candidates])
    for text in stored.values_list("fingerprint", flat=True):
        other = media.Fingerprint.from_text(text)
        if other is not None and fingerprint.is_copy_of(other):
            return True
    return False


def keep_fingerprint(submission: Submission, fingerprint: media.Fingerprint) -> None:
    submission.fingerprint = fingerprint.as_text()
    Submission.objects.filter(pk=submission.pk).update(fingerprint=submission.fingerprint)
    client_id = submission.session.client_id
    FingerprintBand.objects.bulk_create(
        FingerprintBand(submission=submission, client_id=client_id, key=key) for key in fingerprint.band_keys()
    )


def forget_fingerprints(session: VerificationSession) -> None:
    """Erasure: the fingerprints were taken from the face."""
    session.submissions.update(fingerprint="")
    FingerprintBand.objects.filter(submission__session=session).delete()
