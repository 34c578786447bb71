"""The gettext catalogs' upkeep, with Babel: extract, update and check.

`make messages` extracts every message from the code (the `_`, `_n`, `gettext`, `ngettext` and
`pgettext` calls) and from the slash commands (names, descriptions and choices, as `sync` sends
them) into `bot/locales/wanbot.pot`, and merges that into each language's `.po`, where new
messages wait, empty, for a translator. Installing (`make`, `pybabel compile`) compiles the `.po`
files to `.mo`. `check` is what the tests hold every catalog to.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Iterator
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.i18n import CATALOGS, DOMAIN, LOCALE_DIR

ROOT = LOCALE_DIR.parent.parent
SOURCES = ("bot", "cogs", "storage")
KEYWORDS = {**DEFAULT_KEYWORDS, "_n": (1, 2)}
# What a command string is, for translators (names follow Discord's rules: see the .po header).
NAME_CONTEXT = "slash command name"

CommandString = tuple[str, str | None]  # (English text, gettext context)


def extract(command_strings: Iterable[CommandString] = ()) -> Catalog:
    """Every message in the code and the commands, as a template."""
    template = Catalog(domain=DOMAIN, project="wanbot", fuzzy=False)
    for folder in SOURCES:
        found = extract_from_dir(
            ROOT / folder,
            keywords=KEYWORDS,
            comment_tags=("Translators:",),
            strip_comment_tags=True,
            directory_filter=lambda path: "simulator" not in Path(path).parts,
        )
        for filename, lineno, message, comments, context in found:
            template.add(
                message,
                locations=[(f"{folder}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
                flags=("python-brace-format",) if _has_placeholders(message) else (),
            )
    for text, context in command_strings:
        template.add(text, locations=[("slash-commands", 0)], context=context)
    return template


def catalog_path(catalog: str, suffix: str = ".po", locale_dir: Path = LOCALE_DIR) -> Path:
    return locale_dir / catalog / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


def languages() -> list[str]:
    return sorted(set(CATALOGS.values()))


def read(catalog: str, locale_dir: Path = LOCALE_DIR) -> Catalog:
    with catalog_path(catalog, locale_dir=locale_dir).open("rb") as file:
        return read_po(file, locale=catalog)


def update(template: Catalog) -> None:
    """Write the template and merge it into every language's catalog (new ones are made)."""
    _write(template, LOCALE_DIR / f"{DOMAIN}.pot")
    for catalog in languages():
        path = catalog_path(catalog)
        if path.exists():
            current = read(catalog)
        else:
            current = Catalog(locale=catalog, domain=DOMAIN, project="wanbot", fuzzy=False)
        current.update(template, no_fuzzy_matching=True, update_creation_date=False)
        current.obsolete.clear()  # a message gone from the code needs no translation
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(current, path)


def check(template: Catalog, locale_dir: Path = LOCALE_DIR) -> list[str]:
    """What is wrong with the catalogs against `template`: messages without a translation (or
    marked fuzzy), and translations whose placeholders differ from the message's."""
    problems = []
    for catalog in languages():
        path = catalog_path(catalog, locale_dir=locale_dir)
        if not path.exists():
            problems.append(f"{catalog}: no catalog at {path}")
            continue
        translated = read(catalog, locale_dir)
        for wanted in _messages(template):
            found = translated.get(wanted.id, context=wanted.context)
            name = _name(wanted)
            if found is None or not _all_translated(found):
                problems.append(f"{catalog}: no translation for {name}")
            elif found.fuzzy:
                problems.append(f"{catalog}: the translation of {name} is marked fuzzy")
            elif bad := _placeholder_mismatch(wanted, found):
                problems.append(f"{catalog}: {name} {bad}")
    return problems


def _messages(catalog: Catalog) -> Iterator[Message]:
    return (message for message in catalog if message.id)


def _name(message: Message) -> str:
    text = _forms(message.id)[0]
    return repr(text) + (f" (context {message.context!r})" if message.context else "")


def _all_translated(message: Message) -> bool:
    forms = _forms(message.string)
    return bool(forms) and all(forms)


def _placeholder_mismatch(wanted: Message, found: Message) -> str | None:
    ids = _forms(wanted.id)
    expected = set().union(*(_placeholders(text) for text in ids))
    for text in _forms(found.string):
        try:
            have = _placeholders(text)
        except ValueError as error:
            return f"has a broken placeholder in {text!r} ({error})"
        # A plural's form for one may leave out {n} ("a video"); nothing else may be missing.
        missing = expected - have - ({"n"} if len(ids) > 1 else set())
        if have - expected or missing:
            return f"has placeholders {sorted(have)} where the message has {sorted(expected)}"
    return None


def _has_placeholders(message: str | tuple[str, ...]) -> bool:
    return any(_placeholders(text) for text in _forms(message))


def _forms(message: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """A message's forms: one, or singular and plurals."""
    if message is None:
        return ()
    return (message,) if isinstance(message, str) else tuple(message)


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _write(catalog: Catalog, path: Path) -> None:
    with path.open("wb") as file:
        write_po(file, catalog, width=100, sort_output=True, include_lineno=False)
