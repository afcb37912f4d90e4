"""The Simplified Chinese catalogue: every message translated, none fuzzy, the
committed .mo compiled from the committed .po, and every translatable string of the
code in it.

Regenerate after changing strings (gettext's xgettext, msgmerge and msgfmt needed):
    manage.py makemessages -l zh_Hans --ignore=var --ignore=tests --ignore=bench --add-location=file
    manage.py compilemessages -l zh_Hans --ignore=.venv
"""

import ast
import gettext
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# Not part of the running site: where makemessages need not look.
NOT_SOURCE = {".git", ".venv", "var", "static", "tests", "bench", "docs", "requirements"}


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def key(self):
        """The entry's key in a compiled catalogue (gettext.GNUTranslations)."""
        msgid = self.msgid if self.msgctxt is None else f"{self.msgctxt}\x04{self.msgid}"
        return msgid if self.msgid_plural is None else (msgid, 0)

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr.values()) and "fuzzy" not in self.flags


def read_po(path: Path) -> list[Entry]:
    """The live entries of a .po file as makemessages writes it (obsolete ones skipped)."""
    entries, entry, target = [], Entry(), None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if target is not None:
                entries.append(entry)
            entry, target = Entry(), None
        elif line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            append(entry, target, ast.literal_eval(line))
        else:
            keyword, _, text = line.partition(" ")
            target = keyword
            append(entry, target, ast.literal_eval(text))
    return [entry for entry in entries if entry.msgid]


def append(entry: Entry, target: str, text: str) -> None:
    if target.startswith("msgstr"):
        index = int(target[7:-1]) if "[" in target else 0
        entry.msgstr[index] = entry.msgstr.get(index, "") + text
    else:
        setattr(entry, target, (getattr(entry, target) or "") + text)


def untranslated(entries: list[Entry]) -> list[str]:
    return [entry.msgid for entry in entries if not entry.translated]


def compiled(path: Path) -> dict:
    with path.open("rb") as file:
        catalog = dict(gettext.GNUTranslations(file)._catalog)
    catalog.pop("", None)  # the header
    return catalog


def test_every_message_is_translated_and_none_is_fuzzy():
    entries = read_po(PO)
    assert len(entries) > 400
    assert untranslated(entries) == []


def test_the_committed_mo_holds_exactly_the_messages_of_the_po():
    expected = {entry.key: entry.msgstr[0] for entry in read_po(PO)}
    assert compiled(MO) == expected


@pytest.mark.skipif(not shutil.which("msgfmt"), reason="gettext's msgfmt is not installed")
def test_msgfmt_accepts_the_po_and_compiles_the_same_catalogue(tmp_path):
    subprocess.run(["msgfmt", "--check", "-o", tmp_path / "django.mo", PO], check=True, capture_output=True)
    assert compiled(tmp_path / "django.mo") == compiled(MO)


@pytest.mark.skipif(not all(map(shutil.which, ("xgettext", "msguniq", "msgmerge"))),
                    reason="gettext's xgettext, msguniq and msgmerge are not installed")
def test_every_translatable_string_of_the_code_is_in_the_catalogue(tmp_path):
    """makemessages over a copy of the source, merged into a copy of the catalogue,
    finds nothing new to translate."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=lambda folder, names: [
        name for name in names if name == "__pycache__" or (Path(folder) == ROOT and name in NOT_SOURCE)])
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "AVIARY_VAR_DIR": str(tmp_path / "var"),
                   # Settings start the embedded database without one; makemessages never connects.
                   "DATABASE_URL": "postgres://unused@localhost/unused"}
    subprocess.run([sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--add-location=file"],
                   cwd=source, env=environment, check=True, capture_output=True)
    regenerated = read_po(source / PO.relative_to(ROOT))
    assert untranslated(regenerated) == []
    assert {entry.key for entry in regenerated} <= {entry.key for entry in read_po(PO)}
