"""Errors with a meaning. Services raise them; the web layer alone decides
what HTTP status each one is (`verification.web.steps`), and the back
office shows their messages. Each class is its whole contract."""


class IllegalTransition(Exception):
    """A session was asked to move to a status its current one cannot reach."""


class InvalidInput(Exception):
    """Input that cannot make or change anything; `fields` says what is
    wrong where, in words an integrator or a reviewer can act on."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in fields.items()))
        self.fields = fields


class StepRefused(Exception):
    """An end-user step that cannot be taken now. `message` is shown to the
    person (translated lazily); `code` is for programs (the page's script,
    an embedding app's `error` event)."""

    def __init__(self, message, *, code: str):
        super().__init__(str(message))
        self.message = message
        self.code = code


class LinkExpired(StepRefused):
    """The session's link, or a hand-off link, has passed its expiry."""


class ConsentMissing(StepRefused):
    """The person has not agreed to the processing of their data yet."""


class WrongStep(StepRefused):
    """The step does not belong to this session's method (an upload to a
    hosted-page session, a photo where a video is expected, …)."""


class NotNow(StepRefused):
    """The session's state does not allow the step at this moment (still
    processing, no attempt left, started in another window, …)."""


class LimitReached(StepRefused):
    """A rate or attempt limit stops the step before anything is spent."""


class VendorDown(StepRefused):
    """The vendor cannot be asked now; nothing was billed."""


class StorageDown(StepRefused):
    """The media storage cannot keep the file now (away, or full); nothing was kept."""


class DatabaseDown(StepRefused):
    """The database went away in the middle of the step (a restart); what
    was begun is left so that trying again works."""


class FileRefused(StepRefused):
    """An uploaded file the vendor would refuse (too short, too quiet, …)."""


class NotMedia(FileRefused):
    """An upload that is not a video or photo we can read at all."""


class IdempotencyConflict(Exception):
    """An `Idempotency-Key` used before for another request (`code`
    idempotency_conflict), or whose first request has no answer yet (`code`
    idempotency_in_progress). The API answers 409."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message, self.code = message, code
