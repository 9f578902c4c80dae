"""Django's admin looks for an app's model admins in this module: the back
office registers them in `verification.backoffice`."""

from .backoffice import clients, records, sessions  # noqa: F401  (each registers its model admins)
