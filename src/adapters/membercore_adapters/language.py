"""The language of what the command and the demo say: Chinese (zh-CN) first, or English.

A label or message is written once in both languages, side by side (:class:`Words`),
and said in the language asked for: ``zh-CN`` unless ``--lang en`` or
``MEMBERCORE_LANG=en``. The strings live next to the code that says them, and there is
no catalogue to compile: with two languages, both written by the people who write the
code, a pair is easier to keep right than a gettext catalogue.
"""

from __future__ import annotations

import os
from typing import Literal

import attrs

__all__ = ["LANGUAGES", "Language", "Words", "default_language"]

Language = Literal["zh-CN", "en"]
#: The languages, the first the default.
LANGUAGES: tuple[Language, ...] = ("zh-CN", "en")


@attrs.frozen
class Words:
    """A label or message in Chinese and in English.

    Either may hold ``str.format`` fields (``"{count} 条"``), filled by :meth:`say`.
    """

    zh: str
    en: str

    def say(self, language: Language, **fields: object) -> str:
        """The words in ``language``, their fields filled."""
        text = self.zh if language == "zh-CN" else self.en
        return text.format(**fields) if fields else text


def default_language() -> Language:
    """``MEMBERCORE_LANG`` when it names a language (``en``, ``zh-CN``), else zh-CN."""
    asked = os.environ.get("MEMBERCORE_LANG", "").strip().lower()
    return "en" if asked.startswith("en") else "zh-CN"
