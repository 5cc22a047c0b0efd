"""Plain text: UTF-8 (a byte order mark allowed), no binary junk."""

from __future__ import annotations

from server.content.errors import ContentRefused
from server.content.limits import Limits
from server.content.reading import Reading
from server.content.sniff import Kind, text_problem


def read(data: bytes, limits: Limits) -> Reading:
    problem = text_problem(data)
    if problem is not None:
        raise ContentRefused(problem)
    return Reading(Kind.TEXT, data, text(data)[: limits.max_text_chars], "plain")


def text(data: bytes) -> str:
    return data.decode("utf-8-sig").replace("\r\n", "\n")
