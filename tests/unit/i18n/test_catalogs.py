"""Languages: every message is translated in every catalog with its placeholders kept, the
compiled catalogs are the sources', and the localised slash commands keep Discord's rules."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import write_po

from bot.i18n import (
    CATALOGS,
    ENGLISH,
    LANGUAGE_NAMES,
    LOCALE_DIR,
    Text,
    _,
    _n,
    choose,
    language,
    locale_code,
)
from bot.i18n import catalogs as upkeep
from bot.run.app import command_payloads, command_strings

# Discord's rule for command and option names, in every locale (\w covers letters of any script).
NAME = re.compile(r"^[-_'\w\u0900-\u097F\u0E00-\u0E7F]{1,32}$")
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2


@pytest.fixture(scope="module")
def template() -> Catalog:
    """Every message of the code and the slash commands, extracted as `make messages` does."""
    return upkeep.extract(asyncio.run(command_strings()))


def test_every_message_has_a_translation_in_every_catalog(template: Catalog) -> None:
    assert len(template) > 300
    assert upkeep.check(template) == []


def test_the_check_finds_a_missing_translation_and_a_changed_placeholder(
    template: Catalog, tmp_path: Path
) -> None:
    shutil.copytree(LOCALE_DIR, tmp_path, dirs_exist_ok=True)
    japanese = upkeep.read("ja", tmp_path)
    japanese["Video #{id} is not finished."].string = "動画 #{number} はまだできていません。"
    japanese["Video quota"].string = ""
    with upkeep.catalog_path("ja", locale_dir=tmp_path).open("wb") as file:
        write_po(file, japanese)

    problems = upkeep.check(template, tmp_path)

    assert sorted(problems) == [
        "ja: 'Video #{id} is not finished.' has placeholders ['number'] where the message has "
        "['id']",
        "ja: no translation for 'Video quota'",
    ]


def test_a_new_message_in_the_code_is_missing_until_translated(template: Catalog) -> None:
    template.add("A message nobody has translated yet.")
    problems = upkeep.check(template)
    assert len(problems) == len(upkeep.languages())
    assert all("A message nobody has translated yet." in p for p in problems)
    template.delete("A message nobody has translated yet.")


@pytest.mark.parametrize("catalog", upkeep.languages())
def test_the_compiled_catalog_is_its_source(catalog: str, tmp_path: Path) -> None:
    """`make` compiles each .po at install; a stale .mo would show old words."""
    compiled = upkeep.catalog_path(catalog, ".mo")
    assert compiled.exists(), f"{compiled} is missing: run `make` to compile the catalogs"
    fresh = tmp_path / "fresh.mo"
    with fresh.open("wb") as file:
        write_mo(file, upkeep.read(catalog))
    assert compiled.read_bytes() == fresh.read_bytes(), f"{compiled} is stale: run `make`"


def test_a_member_gets_their_language_else_the_servers_else_english() -> None:
    assert choose("ja", "de").code == "ja"
    assert choose("it", "de").code == "de"  # Italian is not offered: the server's German
    assert choose("it", None) is ENGLISH
    assert choose("en-GB", "ja") is ENGLISH  # an English member reads English
    assert language("sv-SE") is ENGLISH


def test_spain_and_latin_america_each_read_their_own_spanish() -> None:
    """Discord's es-ES and es-419 are two catalogs: Spain writes vídeo and the perfect tense
    for what just happened; Latin America writes video and the preterite."""
    spain, latin_america = language("es-ES"), language("es-419")
    assert spain.gettext("Video quota") == "Cuota de vídeo"
    assert latin_america.gettext("Video quota") == "Cuota de video"
    canceled = _("Canceled video #{id}. Nothing was charged.", id=7)
    assert spain.render(canceled) == "Se ha cancelado el vídeo #7. No se ha cobrado nada."
    assert latin_america.render(canceled) == "Se canceló el video #7. No se cobró nada."
    assert choose("es-419", "es-ES") is latin_america


def test_every_language_the_bot_speaks_can_be_the_servers() -> None:
    """`/videoadmin settings language` offers each catalog's locale, each by its own name."""
    assert set(LANGUAGE_NAMES) == {*CATALOGS, "en-US"}
    assert len(set(LANGUAGE_NAMES.values())) == len(LANGUAGE_NAMES)


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("es-419", "es-419"),
        ("es-ES", "es-ES"),
        ("ES_419", "es-419"),
        ("pt_br", "pt-BR"),
        ("zh-tw", "zh-TW"),
        ("ja", "ja"),
        ("en", "en-US"),
        ("en-GB", "en-US"),
        ("EN-us", "en-US"),
    ],
)
def test_a_language_code_is_read_as_discord_spells_it(given: str, code: str) -> None:
    assert locale_code(given) == code
    assert code in LANGUAGE_NAMES


@pytest.mark.parametrize("given", ["es", "xx", "", "zh", "english"])
def test_a_language_wanbot_does_not_speak_is_left_as_given(given: str) -> None:
    """So the caller can refuse it by name (`es` alone could be either Spanish)."""
    assert locale_code(given) == given
    assert given not in LANGUAGE_NAMES


def test_driving_audio_is_named_as_the_audio_that_drives_the_video() -> None:
    """Not the plain word for audio (ja, ko had it), and the same name where a model's summary
    lists it among wan2.7-i2v's inputs."""
    summary = (
        "First frame, first + last frame, driving audio, or continue a clip; 2–15 s with sound"
    )
    for code in CATALOGS:
        lang = language(code)
        label = lang.render(_("Driving audio")).casefold()
        assert label != lang.pgettext(upkeep.NAME_CONTEXT, "audio").casefold(), code
        assert label in lang.gettext(summary).casefold(), code


def test_no_false_friends_for_default_and_driving() -> None:
    """French défaut alone is a flaw (a default is « par défaut »); German Steuer is tax."""
    french = upkeep.read("fr")
    for message in french:
        for text in [message.string] if isinstance(message.string, str) else message.string:
            assert not re.search(r"(?<!par )(?<!par_)défaut", text, re.IGNORECASE), text
    german = upkeep.read("de")
    assert not [m.string for m in german if m.id and "Steuer" in str(m.string)]


def test_every_catalog_speaks_and_keeps_the_values() -> None:
    text = _("Video #{id} is not finished.", id=42)
    for code in CATALOGS:
        rendered = language(code).render(text)
        assert rendered != str(text), code
        assert "42" in rendered and "{" not in rendered, code


def test_plurals_follow_each_languages_rules() -> None:
    one = _n("{s} s in {n} video", "{s} s in {n} videos", 1, s=5)
    three = _n("{s} s in {n} video", "{s} s in {n} videos", 3, s=15)
    assert (str(one), str(three)) == ("5 s in 1 video", "15 s in 3 videos")
    german = language("de")
    assert german.render(one) != german.render(three)
    assert "3" in german.render(three) and "15" in german.render(three)


def test_a_text_comes_back_from_the_database_as_it_went() -> None:
    inner = _("{s} s in {n} video", s=5, n=1)
    text = _n("Video #{id} · {mode}", "Videos · {mode}", 2, id=7, mode=inner)
    stored = json.dumps(text.to_json(), ensure_ascii=False)
    assert Text.from_json(json.loads(stored)) == text


def _localised(payloads: list[dict]) -> Iterator[tuple[str, dict]]:
    """Every command, group and option node with a path, walking into subcommands."""

    def walk(node: dict, path: str) -> Iterator[tuple[str, dict]]:
        yield path, node
        for option in node.get("options", []):
            yield from walk(option, f"{path} {option['name']}")

    for payload in payloads:
        yield from walk(payload, payload["name"])


async def test_localised_commands_keep_discords_rules() -> None:
    every = await command_payloads()
    payloads = [p for p in every if p.get("type", 1) == 1]  # the message menus: below
    locales = set(CATALOGS)  # every Discord locale wanbot speaks
    for menu in (p for p in every if p["type"] == 3):  # a name that may have capitals and spaces
        names = menu["name_localizations"]
        assert set(names) <= locales and {"ja", "ko", "zh-CN", "zh-TW"} <= set(names), names
        assert all(1 <= len(name) <= 32 for name in names.values()), names
    for path, node in _localised(payloads):
        names = node.get("name_localizations") or {}
        descriptions = node.get("description_localizations") or {}
        assert set(names) | set(descriptions) <= locales, path
        # A translation equal to the English is left out; these never are.
        assert {"ja", "ko", "zh-CN", "zh-TW"} <= set(descriptions), f"{path}: {descriptions}"
        for locale, name in names.items():
            assert NAME.match(name) and name == name.lower(), f"{path} [{locale}]: {name!r}"
        for locale, description in descriptions.items():
            assert 1 <= len(description) <= 100, f"{path} [{locale}]: {description!r}"
        for choice in node.get("choices", []):
            for locale, name in (choice.get("name_localizations") or {}).items():
                assert 1 <= len(name) <= 100, f"{path} [{locale}] choice {name!r}"
        # Options of one command (and subcommands of one group) need distinct names everywhere.
        children = node.get("options", [])
        for locale in locales:
            shown = [c.get("name_localizations", {}).get(locale, c["name"]) for c in children]
            assert len(shown) == len(set(shown)), f"{path} [{locale}]: {shown}"
    top = [p.get("name_localizations", {}).get("ja", p["name"]) for p in payloads]
    assert len(top) == len(set(top))
