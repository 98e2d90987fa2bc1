"""The demo's outbox: the mail Django's file backend wrote, read back for operator staff.

`sitealert demo` sends no mail: the file backend writes each message to SITEALERT_EMAIL_FILE_PATH,
one file per connection, each message followed by a line of 79 dashes. With
SITEALERT_DEMO_OUTBOX on (the demo turns it on; production leaves it off) staff read them in
the browser, so the tour's review request can be confirmed without a mail server.
"""

import email.policy
from dataclasses import dataclass
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

SEPARATOR = b"\n" + b"-" * 79 + b"\n"
MAX_MESSAGES = 200


@dataclass(frozen=True)
class SentMessage:
    subject: str
    sender: str
    to: str
    date: object  # datetime, or None when the header is missing or unreadable
    body: str


def _parse(raw):
    message = BytesParser(policy=email.policy.default).parsebytes(raw.strip(b"\n"))
    part = message.get_body(preferencelist=("plain",))
    try:
        sent = parsedate_to_datetime(message["Date"]) if message["Date"] else None
    except (TypeError, ValueError):
        sent = None
    return SentMessage(subject=str(message["Subject"] or ""), sender=str(message["From"] or ""),
                       to=str(message["To"] or ""), date=sent, body=part.get_content() if part else "")


def sent_messages(directory, limit=MAX_MESSAGES):
    """The newest `limit` messages written under `directory`, newest first ([] when there is none)."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    files = sorted((p for p in folder.iterdir() if p.is_file()), key=lambda p: (p.stat().st_mtime, p.name),
                   reverse=True)
    messages = []
    for path in files:
        chunks = [chunk for chunk in path.read_bytes().split(SEPARATOR) if chunk.strip()]
        for chunk in reversed(chunks):
            messages.append(_parse(chunk))
            if len(messages) >= limit:
                return messages
    return messages
