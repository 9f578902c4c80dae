"""What the emulated identity services accept as a Chinese name and ID
number (shared by the Tencent and Juhe emulators; independent of the
portal's own check)."""

import re
from datetime import date

from django.utils import timezone

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
NAME_PATTERN = re.compile(f"[{HAN}]+(?:·[{HAN}]+)*")
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number_is_valid(number):
    """GB 11643: 17 digits, a check digit (upper-case X for 10), a real birth date."""
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        return False
    if number[17] != "10X98765432"[sum(int(digit) * weight for digit, weight in zip(number, WEIGHTS)) % 11]:
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= timezone.localdate()


def name_is_valid(name):
    """2–30 Chinese characters, parts joined by a middle dot."""
    return 2 <= len(name) <= 30 and NAME_PATTERN.fullmatch(name) is not None
