# What this module does: tests of the DataFrame view of a mailbox (mailmagic/analysis.py) on
# messages built with the stdlib: decoded headers, timezone-aware dates, attachments, threads.
from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

from mailmagic.analysis import COLUMNS, thread_sizes, to_dataframe


@dataclass(frozen=True)
class Stored:
    number: int
    uid: str
    size: int
    message: EmailMessage


def make(n: int, subject: str, date: str, **headers: str) -> Stored:
    m = EmailMessage()
    m["From"] = "=?utf-8?q?J=C3=BCrgen?= <j@lab.test>"
    m["To"] = "alice@lab.test"
    m["Subject"] = subject
    m["Date"] = date
    m["Message-ID"] = f"<m{n}@lab.test>"
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    m.set_content(f"body {n}")
    return Stored(n, f"uid{n}", 100 * n, m)


def test_columns_decoding_dates_and_threads() -> None:
    first = make(1, "=?utf-8?b?R3LDvMOfZQ==?=", "Mon, 16 Nov 2026 10:00:00 +0100")
    reply = make(
        2,
        "Re: hi",
        "Tue, 17 Nov 2026 09:00:00 -0500",
        In_Reply_To="<m1@lab.test>",
        References="<m1@lab.test>",
    )
    with_file = make(3, "files", "Wed, 18 Nov 2026 12:00:00 +0000")
    with_file.message.add_attachment(
        b"%PDF", maintype="application", subtype="pdf", filename="r.pdf"
    )
    frame = to_dataframe([first, reply, with_file])
    assert tuple(frame.columns) == COLUMNS
    assert frame["from"][0] == "Jürgen <j@lab.test>" and frame["subject"][0] == "Grüße"
    assert str(frame["date"].dt.tz) == "UTC"
    assert frame["date"][1].isoformat() == "2026-11-17T14:00:00+00:00"
    assert frame["attachments"].tolist() == [0, 0, 1]
    assert frame["attachment_names"][2] == ["r.pdf"]
    assert frame["thread"].tolist() == ["<m1@lab.test>", "<m1@lab.test>", "<m3@lab.test>"]
    assert thread_sizes(frame).tolist() == [2, 1]


def test_a_missing_or_broken_date_is_empty() -> None:
    frame = to_dataframe([make(1, "x", "not a date")])
    assert frame["date"].isna().all()
