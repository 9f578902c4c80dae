"""Who ran a management command, for the audit log (commands have no user)."""

import getpass


def command_origin(command: str) -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry for the uid
        user = "unknown"
    return f"manage.py {command} as OS user {user}"
