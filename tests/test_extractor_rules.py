"""The extractor's rule data: CSV tables under pipeline/metadata/rules/, reached through the Taxonomy passed in."""

from dataclasses import replace

import pytest

from pipeline.documents import Document
from pipeline.extractor import extract_document
from pipeline.extractor.gazetteer import gazetteers
from pipeline.metadata import rules as rules_module
from pipeline.metadata.fields import QUALIFIERS
from pipeline.metadata.rules import OffenceRule, qualifiers
from pipeline.metadata.taxonomy import _check_rules, load_taxonomy


def doc(text: str) -> Document:
    return Document(document="t.txt", sha256="0" * 64, bytes=len(text), media_type="text/plain", text=text)


def platforms_of(text: str, taxonomy=None) -> list[str]:
    return [f.platform for f in extract_document(doc(text), taxonomy).facts]


SENTENCE = "Police recorded 1,200 grooming offences on Quibble in 2023, the NSPCC said."


def test_a_custom_taxonomy_is_used_whole_by_the_gazetteers_and_the_extractor():
    tax = load_taxonomy()
    custom = replace(tax, aliases={**tax.aliases, "platforms": [*tax.aliases["platforms"], {"slug": "snapchat", "alias": "quibble"}]})
    assert platforms_of(SENTENCE) == ["all_platforms"]
    assert platforms_of(SENTENCE, custom) == ["snapchat"]
    assert gazetteers(custom) is not gazetteers(tax)
    assert platforms_of(SENTENCE) == ["all_platforms"]  # the default taxonomy's gazetteers are untouched


def test_an_everyday_word_alias_matches_only_when_capitalised():
    found = platforms_of("Police recorded 310 grooming offences on Threads in 2023, the NSPCC said.")
    assert found == ["threads"]
    tax = load_taxonomy()
    cases = {**tax.rules.alias_cases, "platforms": {**tax.rules.alias_cases["platforms"], "quibble": "capitalised"}}
    custom = replace(
        tax,
        aliases={**tax.aliases, "platforms": [*tax.aliases["platforms"], {"slug": "snapchat", "alias": "quibble"}]},
        rules=replace(tax.rules, alias_cases=cases),
    )
    assert platforms_of(SENTENCE.replace("Quibble", "quibble"), custom) == ["all_platforms"]
    assert platforms_of(SENTENCE, custom) == ["snapchat"]


def test_a_region_fold_comes_from_the_rule_table():
    text = "Police in Wales and England recorded 5,000 grooming offences on Snapchat in 2023."
    assert [f.region for f in extract_document(doc(text)).facts] == ["england_and_wales"]
    tax = load_taxonomy()
    no_folds = replace(tax, rules=replace(tax.rules, region_folds=()))
    assert [f.region for f in extract_document(doc(text), no_folds).facts] == [None]


def test_an_offence_rule_row_changes_the_offence_of_an_online_figure():
    text = "Police recorded 5,000 child sexual offences on Snapchat in 2023, the NSPCC said."
    assert [f.offence for f in extract_document(doc(text)).facts] == ["online_child_sexual_offences"]
    tax = load_taxonomy()
    kept = tuple(r for r in tax.rules.offence_rules if r.slug != "child_sexual_offences")
    custom = replace(tax, rules=replace(tax.rules, offence_rules=kept))
    assert [f.offence for f in extract_document(doc(text), custom).facts] == ["child_sexual_offences"]


def test_material_and_hotline_rules_are_rows_of_the_offence_table():
    images = "Officers seized 4,000 images in online child sexual exploitation cases in 2023."
    reports = "The Internet Watch Foundation received 9,000 reports of suspected child abuse online in 2023."
    assert [f.offence for f in extract_document(doc(images)).facts] == ["child_sexual_abuse_material_reports"]
    assert [f.offence for f in extract_document(doc(reports)).facts] == ["child_sexual_abuse_material_reports"]
    tax = load_taxonomy()
    kept = tuple(r for r in tax.rules.offence_rules if r.when not in ("images", "hotline_reports"))
    custom = replace(tax, rules=replace(tax.rules, offence_rules=kept))
    assert [f.offence for f in extract_document(doc(images), custom).facts] != ["child_sexual_abuse_material_reports"]
    assert [f.offence for f in extract_document(doc(reports), custom).facts] == [None]


def test_a_source_scope_row_is_read_through_the_taxonomy():
    text = "The Internet Watch Foundation received 9,000 reports of suspected child abuse online in 2023.\n\nIts analysts work in England."
    tax = load_taxonomy()
    assert tax.rules.source_scopes["iwf"] == "world"
    assert [f.region for f in extract_document(doc(text)).facts] == [None]  # a world body's total: no country
    scopes = {k: v for k, v in tax.rules.source_scopes.items() if k != "iwf"}
    custom = replace(tax, rules=replace(tax.rules, source_scopes=scopes))
    assert [f.region for f in extract_document(doc(text), custom).facts] == ["england"]


def test_rule_tables_naming_an_unknown_slug_are_refused():
    tax = load_taxonomy()
    tables = {"platforms": tax.platforms, "regions": tax.regions, "offences": tax.offences, "sources": tax.sources}
    bad = replace(tax.rules, offence_rules=(*tax.rules.offence_rules, OffenceRule("no_such_offence", "children", "", "sexual_crimes")))
    with pytest.raises(ValueError, match="unknown offences slug 'no_such_offence'"):
        _check_rules(bad, tables)
    bad = replace(tax.rules, region_folds=((frozenset({"england", "atlantis"}), "england_and_wales"),))
    with pytest.raises(ValueError, match="unknown regions slug 'atlantis'"):
        _check_rules(bad, tables)


def test_qualifiers_are_one_table_for_the_grammar_the_column_and_the_merge():
    assert tuple(q.name for q in qualifiers()) == QUALIFIERS
    assert QUALIFIERS[0] == "exact" and {q.bound for q in qualifiers()} == set(rules_module.BOUNDS)
    f = extract_document(doc("Police recorded upwards of 4,000 grooming offences on Snapchat in 2023.")).facts[0]
    assert (f.count, f.qualifier) == (4000, "more_than")
