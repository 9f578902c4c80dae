"""Chinese resident ID numbers (GB 11643-1999) and how they are shown."""

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^[1-9]\d{16}[\dX]$")
# Births are registered on China's calendar, whatever the server's time zone.
CHINA = ZoneInfo("Asia/Shanghai")


def idcard_check_char(first17: str) -> str:
    """The 18th character: ISO 7064 MOD 11-2 over the first 17 digits."""
    return _CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, _WEIGHTS)) % 11]


# No one alive was born earlier; a made-up number often was.
EARLIEST_BIRTH = date(1900, 1, 1)


def idcard_error(number: str, *, today: date | None = None) -> str | None:
    """Why `number` is not a valid 18-digit ID number, or None if it is.
    `today` (China's date by default) bounds the date of birth."""
    if not _SHAPE.match(number):
        return "must be 18 characters: 17 digits then a digit or X"
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "holds no valid date of birth"
    if born < EARLIEST_BIRTH:
        return "holds a date of birth before 1900"
    if born > (today or datetime.now(CHINA).date()):
        return "holds a date of birth in the future"
    if idcard_check_char(number[:17]) != number[17]:
        return "fails the GB 11643 checksum"
    return None


def normalise_idcard(number: str) -> str:
    return number.strip().upper()


def mask_idcard(number: str) -> str:
    """`110105********002X`: region code and the last four stay visible."""
    if not number:
        return ""
    return number[:6] + "*" * (len(number) - 10) + number[-4:] if len(number) > 10 else "*" * len(number)


def mask_name(name: str) -> str:
    """`张*`, `欧阳**`: the first character stays visible."""
    return name[:1] + "*" * (len(name) - 1) if name else ""
