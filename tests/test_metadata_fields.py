"""The resolver reads Requires-Dist and Provides-Extra of hundreds of METADATA files per cold resolve.
envsync reads a plain header block line by line rather than through the email module: these tests
hold that reading to exactly what packaging's parse_email gives, for the blocks it takes and the
ones it hands over (folded lines, mixed line ends, other encodings, a line that ends the headers early)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.metadata import parse_email

from envsync.files.metadata import _plain_values, multiple_use_field

FIELDS = ("requires_dist", "provides_extra")


def parse_emails_answer(metadata: bytes, field: str) -> list[str]:
    return list(parse_email(metadata)[0].get(field, []))  # type: ignore[call-overload,no-any-return]


PLAIN = b"\n".join([
    b"Metadata-Version: 2.1",
    b"Name: app",
    b"Version: 1.0",
    b"Summary: An app",
    b"License: MIT or",
    b"        Apache-2.0",
    b"Requires-Python: >=3.8",
    b"Requires-Dist: lib>=1",
    b'requires-dist: other ; python_version < "3.10"',
    b"Requires-Dist:  spaced  ",  # the email module keeps trailing spaces
    b"Requires-Dist:",
    b"Provides-Extra: test",
    b'Requires-Dist: pytest; extra == "test"',
    b"",
    b"Requires-Dist: not-a-header (this is the description)",
    b"",
])

CASES = {
    "plain": (PLAIN, True),
    "no body, no final newline": (b"Name: a\nVersion: 1\nRequires-Dist: b", True),
    "a folded Requires-Dist": (b"Name: a\nRequires-Dist: b\n  >=1\nRequires-Dist: c\n\nbody", True),
    "folded with a tab": (b"Name: a\nRequires-Dist: b\n\t; extra == 'x'\n", True),
    "non-ASCII elsewhere": ("Name: a\nAuthor: José Ñandú\nRequires-Dist: b\n".encode(), True),
    "a blank first line": (b"\nRequires-Dist: b\n", True),
    "CRLF line ends": (b"Name: a\r\nRequires-Dist: b\r\nRequires-Dist: c\r\n\r\nRequires-Dist: body\r\n", True),
    "CRLF, folded": (b"Name: a\r\nRequires-Dist: b\r\n  >=1\r\nProvides-Extra: x\r\n", True),
    "CRLF, then a bare LF": (b"Name: a\r\nRequires-Dist: b\nRequires-Dist: c\r\n", False),
    "CRLF, then a bare CR": (b"Name: a\r\nRequires-Dist: b\rRequires-Dist: c\r\n", False),
    "LF, then CRLF": (b"Name: a\nRequires-Dist: b\r\nRequires-Dist: c\n", False),
    "a first line that is folded": (b" Name: a\nRequires-Dist: b\n", False),
    "a line without a colon": (b"Name: a\nthis is no header\nRequires-Dist: b\n", False),
    "a unix From line": (b"From nobody Mon Jan  1 00:00:00 2024\nRequires-Dist: b\n", False),
    "a form feed in a value": (b"Name: a\nRequires-Dist: b\x0cRequires-Dist: c\n", False),
    "a name with a space": (b"Name: a\nRequires Dist: b\nRequires-Dist: c\n", False),
    "non-ASCII in Requires-Dist": ("Name: a\nRequires-Dist: b; extra == 'é'\n".encode(), False),
    "Latin-1 in Requires-Dist": (b"Name: a\nRequires-Dist: b\xe9\n", False),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("field", FIELDS)
def test_a_field_reads_as_parse_email_reads_it(case: str, field: str):
    metadata, plain = CASES[case]
    assert multiple_use_field(metadata, field) == parse_emails_answer(metadata, field)
    # Which way Requires-Dist went: the quick reading for plain blocks, parse_email for the others.
    assert (_plain_values(metadata, b"requires-dist") is not None) is plain


def test_the_plain_example_really_has_its_fields():
    """The comparison above means something: the example's fields are there, the description's not."""
    assert multiple_use_field(PLAIN, "requires_dist") == [
        "lib>=1", 'other ; python_version < "3.10"', "spaced  ", "", 'pytest; extra == "test"']
    assert multiple_use_field(PLAIN, "provides_extra") == ["test"]


# Header blocks built from the pieces that decide how the email module splits them.
names = st.sampled_from(["Requires-Dist", "requires-dist", "Provides-Extra", "Name", "Summary", "X-Odd",
                         "Requires Dist", "", "From "])
values = st.text(alphabet=st.sampled_from(list("ab =<>;'\"\t é") + ["\x0c", "\x0b", "\x85", "\r"]), max_size=12)
lines = st.one_of(
    st.builds(lambda name, value: f"{name}:{value}", names, values),
    st.builds(lambda value: f" {value}", values),  # a folded line
    st.builds(lambda value: f"\t{value}", values),
    values,  # no colon at all, or an empty line
)
blocks = st.builds(lambda newline, parts, end, body: newline.join(parts) + end + body,
                   st.sampled_from(["\n", "\r\n"]), st.lists(lines, max_size=8),
                   st.sampled_from(["", "\n", "\n\n", "\r\n", "\r\n\r\n"]),
                   st.sampled_from(["", "Requires-Dist: in-the-body\n", "Requires-Dist: in-the-body\r\n"]))
encodings = st.sampled_from(["utf-8", "latin-1"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block=blocks, encoding=encodings, field=st.sampled_from(FIELDS))
def test_any_header_block_reads_as_parse_email_reads_it(block: str, encoding: str, field: str):
    metadata = block.encode(encoding, errors="replace")
    assert multiple_use_field(metadata, field) == parse_emails_answer(metadata, field)
