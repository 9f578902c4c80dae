"""Gunicorn's own logs (its access log and its error log) through the
portal's RedactFilter: the access log's request line and referrer hold
link tokens (`GET /v/<token>/`) and admin searches (`?q=<ID number>`).

gunicorn.conf.py names this class as `logger_class`; whatever handlers
gunicorn sets up (a file, stdout, syslog), on start and on every reload,
get the filter."""

from gunicorn.glogging import Logger

from verification.platform.logs import RedactFilter


class RedactingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(existing, RedactFilter) for existing in handler.filters):
                    handler.addFilter(RedactFilter())
