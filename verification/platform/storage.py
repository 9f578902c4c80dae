"""What the media storage raises while it is away or full: a local folder
an OSError (ENOSPC, EIO, …); object storage botocore's errors (no
connection, a 5xx). Callers that can wait catch these and try again later."""

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # no S3 support installed
    STORAGE_ERRORS: tuple[type[Exception], ...] = (OSError,)
else:
    STORAGE_ERRORS = (OSError, BotoCoreError, ClientError)
