# What this module does: tests of the Parquet index (mailmagic/index.py) on Maildirs and mboxes
# written here with the stdlib's mailbox module: every message once with its key and size (the
# mbox cut exactly as mailbox.mbox cuts it, across block boundaries too), headers read as the email
# package reads them (folded lines, RFC 2047, duplicates, CRLF, octets that are not UTF-8, a header
# block longer than one read, address lists as getaddresses reads them), bad dates and missing
# fields as nulls, the typed schema, row groups flushed as it goes (memory bounded), the DuckDB
# queries of notebook 07 on the output, the index written under a temporary name and renamed only
# when whole, and clear errors for a wrong path or a missing pyarrow.
from __future__ import annotations

import email
import email.policy
import email.utils
import mailbox
import random
import re
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mailmagic.index as index_module
from mailmagic import analysis
from mailmagic.index import SCHEMA, NotAMailboxError, Stored, arrow_schema, index, write

LONG_REFERENCES = " ".join(f"<ref{n}@lab.test>" for n in range(1200))  # over 16 KiB: two reads

TRICKY = [
    b"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <Juergen@Lab.TEST>\n"
    b"To: ada@lab.test,\n\tBob <bob@lab.test>\n"
    b"Cc: grace@example.org\n"
    b"Subject: =?utf-8?b?R3LDvMOfZQ==?=\n =?utf-8?q?_aus_Berlin?=\n"
    b"Date: Mon, 16 Nov 2026 10:00:00 +0100\n"
    b"Message-ID: <m1@lab.test>\n"
    b"List-Id: Lab talk <talk.lab.test>\n"
    b"Authentication-Results: mx.lab.test;\n spf=pass smtp.mailfrom=lab.test;\n"
    b" dkim=fail header.d=lab.test; dmarc=none\n"
    b"Authentication-Results: relay.lab.test; spf=fail\n"
    b"\n"
    b"Body line\nFrom the start of a body line\n",
    b"From: bob@lab.test\n"
    b"Subject: caf\xe9 latin-1\n"
    b"Subject: a second subject\n"
    b"To: ada@lab.test\n"
    b"To: linus@example.net\n"
    b"Date: not a date at all\n"
    b"In-Reply-To: <m1@lab.test> (Juergen's)\n"
    b"References: <m0@lab.test>\n <m1@lab.test>\n"
    b"\n"
    b"hello\n",
    b"Subject: only a subject, no body\n",
    b"From: Ada <ada@lab.test>\r\nSubject: crlf \xc3\xa9\r\n"
    b"Date: Tue, 17 Nov 2026 09:00:00 -0000\r\n"
    b"References: " + LONG_REFERENCES.encode() + b"\r\n\r\nbody\r\n",
    b"From: =?unknown-8bit?q?M=FCller?= <m@lab.test>\nSubject: =?utf-8?q?broken=ZZ?=\n\n",
]


def maildir_of(path: Path, messages: list[bytes]) -> dict[str, bytes]:
    box = mailbox.Maildir(path)
    keys = {box.add(m): m for m in messages}
    box.close()
    return keys


def mbox_of(path: Path, messages: list[bytes]) -> Path:
    box = mailbox.mbox(path)
    for m in messages:
        box.add(m)
    box.close()
    return path


def rows(path: Path) -> list[dict[str, Any]]:
    return pq.read_table(path).to_pylist()  # type: ignore[no-any-return]


def by_subject(table: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["subject"]: r for r in table}


def test_maildir_round_trip_keys_sizes_and_tricky_headers(tmp_path: Path) -> None:
    keys = maildir_of(tmp_path / "md", TRICKY)
    table = rows(index(tmp_path / "md", tmp_path / "i.parquet"))
    assert {r["key"]: r["size"] for r in table} == {k: len(m) for k, m in keys.items()}
    assert all(r["offset"] is None and Path(r["source"]).is_file() for r in table)
    got = by_subject(table)
    first = got["Grüße aus Berlin"]
    assert first["from"] == "Jürgen Müller <Juergen@Lab.TEST>"
    assert first["from_address"] == "Juergen@lab.test"
    assert first["to"] == ["ada@lab.test", "bob@lab.test"] and first["cc"] == ["grace@example.org"]
    assert first["date"] == datetime(2026, 11, 16, 9, tzinfo=timezone.utc)
    assert first["message_id"] == first["thread"] == "<m1@lab.test>"
    assert first["list_id"] == "talk.lab.test"
    assert first["authentication_results"] == [
        "mx.lab.test; spf=pass smtp.mailfrom=lab.test; dkim=fail header.d=lab.test; dmarc=none",
        "relay.lab.test; spf=fail",
    ]
    assert (first["spf"], first["dkim"], first["dmarc"]) == ("pass", "fail", "none")
    second = got["café latin-1"]  # not UTF-8: Latin-1; a second Subject is ignored
    assert second["to"] == ["ada@lab.test", "linus@example.net"]  # both To fields
    assert second["date"] is None and second["in_reply_to"] == "<m1@lab.test>"
    assert second["references"] == ["<m0@lab.test>", "<m1@lab.test>"]
    assert second["thread"] == "<m0@lab.test>"


def test_missing_fields_are_null_and_odd_ones_survive(tmp_path: Path) -> None:
    maildir_of(tmp_path / "md", TRICKY)
    got = by_subject(rows(index(tmp_path / "md", tmp_path / "i.parquet")))
    bare = got["only a subject, no body"]
    nulls = [name for name, _ in SCHEMA if name not in ("key", "source", "size", "subject")]
    assert all(bare[name] is None for name in nulls)
    crlf = got["crlf é"]
    assert crlf["date"] == datetime(2026, 11, 17, 9, tzinfo=timezone.utc)  # -0000 is UTC
    assert crlf["from"] == "Ada <ada@lab.test>" and len(crlf["references"]) == 1200
    assert got["broken=ZZ"]["from_address"] == "m@lab.test"  # decoded leniently, as email does


def test_headers_agree_with_the_email_package(tmp_path: Path) -> None:
    maildir_of(tmp_path / "md", TRICKY[:1] + TRICKY[3:4])
    for r in rows(index(tmp_path / "md", tmp_path / "i.parquet")):
        parsed = email.message_from_bytes(
            Path(r["source"]).read_bytes(), policy=email.policy.default
        )
        assert r["subject"] == str(parsed["Subject"])
        assert r["from"] == str(parsed["From"])
        assert r["date"] == parsed["Date"].datetime.astimezone(timezone.utc)


NAMES = ["", "Ada", "Ada  Lovelace", "=?utf-8?q?J=C3=BCrgen?=", "J. Smith", '"Doe, John"', "Ünï"]
ADDRS = ["a@b.c", "First.Last@Example.ORG", "x+y@z", "alice", "a @ b", "<>", "o'neil@x.y"]


def test_address_lists_are_read_as_getaddresses_reads_them() -> None:
    items = [f"{n} <{a}>" if n else a for n in NAMES for a in ADDRS]
    items += ["Bob (the boss) <bob@x.y>", "undisclosed-recipients:;", "Team: a@b.c, d@e.f;"]
    rng = random.Random(2026)
    for _ in range(3000):
        text = ",".join(rng.choice(["", " ", "\t "]) + rng.choice(items) for _ in range(3))
        want = [(name, addr) for name, addr in email.utils.getaddresses([text]) if addr]
        assert index_module._pairs(text) == want, text


def test_mbox_is_cut_as_mailbox_cuts_it(tmp_path: Path) -> None:
    path = mbox_of(tmp_path / "box", TRICKY)
    table = rows(index(path, tmp_path / "i.parquet"))
    box = mailbox.mbox(path)
    assert [r["key"] for r in table] == [str(k) for k in box.iterkeys()]
    assert [r["size"] for r in table] == [len(box.get_bytes(k)) for k in box.iterkeys()]
    toc = box._toc  # the offsets of the "From " lines
    assert [r["offset"] for r in table] == [toc[k][0] for k in box.iterkeys()]
    assert by_subject(table)["Grüße aus Berlin"]["spf"] == "pass"
    assert {r["source"] for r in table} == {str(path)}


@pytest.mark.parametrize("block", [7, 64, 1000])
def test_mbox_blocks_boundaries_do_not_matter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    messages = [f"Subject: n{n}\n\n{'x' * (n % 13)}\n\nFrom here\n".encode() for n in range(60)]
    path = mbox_of(tmp_path / "box", messages)
    with open(path, "ab") as f:  # a "From " line not made by mailbox splits as mailbox splits
        f.write(b"From nobody\nSubject: raw\n\nFrom x\n")
    monkeypatch.setattr(index_module, "_BLOCK", block)
    table = rows(index(path, tmp_path / "i.parquet"))
    box = mailbox.mbox(path)
    assert [r["size"] for r in table] == [len(box.get_bytes(k)) for k in box.iterkeys()]
    assert [r["offset"] for r in table] == [box._toc[k][0] for k in box.iterkeys()]


def test_schema_is_typed(tmp_path: Path) -> None:
    maildir_of(tmp_path / "md", TRICKY)
    schema = pq.read_schema(index(tmp_path / "md", tmp_path / "i.parquet"))
    assert schema.names == [name for name, _ in SCHEMA]
    assert schema.field("date").type == pa.timestamp("us", tz="UTC")
    assert schema.field("size").type == pa.int64() == schema.field("offset").type
    for name in ("to", "cc", "references", "authentication_results"):
        assert schema.field(name).type == pa.list_(pa.string())
    assert schema.field("subject").type == pa.string()


def test_an_empty_maildir_gives_an_empty_index(tmp_path: Path) -> None:
    maildir_of(tmp_path / "md", [])
    table = pq.read_table(index(tmp_path / "md", tmp_path / "i.parquet"))
    assert table.num_rows == 0 and table.schema.equals(arrow_schema())
    assert pq.read_table(index(mbox_of(tmp_path / "b", []), tmp_path / "j.parquet")).num_rows == 0


def generated(count: int) -> list[bytes]:
    senders = ["ada@lab.test", "bob@lab.test", "grace@example.org"]
    out = []
    for n in range(count):
        reply = f"In-Reply-To: <m{n // 3 * 3}@lab.test>\n" if n % 3 else ""
        out.append(
            f"From: {senders[n % 3]}\nTo: alice@lab.test\nSubject: {'Re: ' if n % 3 else ''}"
            f"topic {n // 3}\nDate: Mon, 16 Nov 2026 {n % 24:02d}:00:00 +0000\n"
            f"Message-ID: <m{n}@lab.test>\n{reply}\nbody {n}\n".encode()
        )
    return out


def test_row_groups_are_flushed_as_it_goes(tmp_path: Path) -> None:
    maildir_of(tmp_path / "md", generated(25))
    out = index(tmp_path / "md", tmp_path / "i.parquet", row_group=10)
    meta = pq.ParquetFile(out).metadata
    assert meta.num_row_groups == 3 and meta.num_rows == 25
    assert [meta.row_group(i).num_rows for i in range(3)] == [10, 10, 5]


def test_the_notebooks_duckdb_queries_run_on_the_index(tmp_path: Path) -> None:
    maildir_of(tmp_path / "md", generated(30))
    out = str(index(tmp_path / "md", tmp_path / "mailbox.parquet"))
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    db.execute(f"CREATE VIEW mail AS SELECT * FROM read_parquet('{out}')")
    top = db.sql("SELECT from_address, count(*) AS n FROM mail GROUP BY 1 ORDER BY 2 DESC, 1")
    assert top.fetchall() == [("ada@lab.test", 10), ("bob@lab.test", 10), ("grace@example.org", 10)]
    hours = db.sql("SELECT hour(date) AS h, count(*) FROM mail GROUP BY 1 ORDER BY 1").fetchall()
    assert sum(n for _, n in hours) == 30 and hours[0] == (0, 2)
    threads = db.sql(
        "SELECT thread, count(*) AS messages, count(DISTINCT from_address) AS people, "
        "min(date) AS started FROM mail GROUP BY thread ORDER BY messages DESC, thread LIMIT 3"
    ).fetchall()
    assert [t[1:3] for t in threads] == [(3, 3)] * 3
    subjects = db.sql(
        "SELECT regexp_replace(lower(subject), '^((re|fwd?|aw):\\s*)+', '') AS topic, "
        "count(*) FROM mail GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
    ).fetchall()
    assert subjects == [("topic 0", 3)]
    unnested = db.sql('SELECT count(*) FROM (SELECT unnest("to") FROM mail)').fetchall()
    assert unnested == [(30,)]


NOTEBOOK = (
    Path(__file__).resolve().parent.parent / "notebooks" / "src" / "07-exploring-a-mailbox.md"
)


def test_every_query_of_notebook_07_runs_on_the_index(tmp_path: Path) -> None:
    source = NOTEBOOK.read_text(encoding="utf-8")
    queries = re.findall(r'db\.sql\(r?"""(.*?)"""\)', source, re.S)
    queries += re.findall(r'db\.sql\("([^"]+)"\)', source)
    assert len(queries) >= 4
    maildir_of(tmp_path / "md", generated(30))
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    out = index(tmp_path / "md", tmp_path / "mailbox.parquet")
    db.execute(f"CREATE VIEW mail AS SELECT * FROM read_parquet('{out}')")
    for query in queries:
        assert db.sql(query).fetchall(), query


def failing(after: int, messages: Iterator[Stored]) -> Iterator[Stored]:
    for n, message in enumerate(messages):
        if n == after:
            raise OSError("disk gone")
        yield message


def test_a_failure_midway_leaves_nothing_under_the_final_name(tmp_path: Path) -> None:
    maildir_of(tmp_path / "md", generated(30))
    out = tmp_path / "i.parquet"
    with pytest.raises(OSError, match="disk gone"):
        write(failing(25, index_module.messages(tmp_path / "md")), out, row_group=10)
    assert list(tmp_path.iterdir()) == [tmp_path / "md"]  # no index, no temporary file left
    index(tmp_path / "md", out)
    with pytest.raises(OSError):
        write(failing(15, index_module.messages(tmp_path / "md")), out, row_group=10)
    assert pq.read_table(out).num_rows == 30  # the earlier index is still whole


def test_a_path_that_is_no_mailbox_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("Subject: hi\n\n")
    with pytest.raises(NotAMailboxError, match=r"neither a Maildir .* nor an mbox"):
        index(tmp_path / "notes.txt", tmp_path / "i.parquet")
    with pytest.raises(NotAMailboxError, match="neither a Maildir"):
        index(tmp_path, tmp_path / "i.parquet")  # a folder without cur/ and new/
    with pytest.raises(NotAMailboxError, match="does not exist"):
        index(tmp_path / "missing", tmp_path / "i.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_without_pyarrow_the_error_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    maildir_of(tmp_path / "md", TRICKY)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match=r'pip install "mailmagic\[analysis\]"'):
        index(tmp_path / "md", tmp_path / "i.parquet")


def test_analysis_offers_the_same_index() -> None:
    assert analysis.index is index
