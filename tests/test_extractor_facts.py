"""The extractor on sentences written for these tests (not copied from any corpus).

Every not-a-fact kind has sentences that must NOT produce a fact, and the decision
and reason must show in the mentions audit trail.
"""

import re
from datetime import date

import pytest

from pipeline.documents import Document
from pipeline.extractor import extract_document, not_facts
from pipeline.extractor.not_facts import RULES
from pipeline.extractor.reasons import Reason
from pipeline.validate import span_errors


def doc(text: str, published: date | None = None) -> Document:
    return Document(document="t.txt", sha256="0" * 64, bytes=len(text), media_type="text/plain", text=text, published=published)


def facts(text: str, published: date | None = None):
    return extract_document(doc(text, published)).facts


def only(text: str, published: date | None = None):
    found = facts(text, published)
    assert len(found) == 1, [(f.platform, f.count, f.share, f.quote) for f in found]
    return found[0]


# ---------------------------------------------------------------- not facts

NOT_FACTS = {
    "age": [
        "A girl aged 13 was groomed on a gaming app, police said after the sexual abuse trial.",
        "The youngest victim of the grooming offences was a six-year-old boy.",
        "Most victims of the sexual offences were between 12 and 15 years old.",
    ],
    "money": [
        "The charity spent £4.2m on its campaign against child sexual abuse.",
        "Offenders paid $3,500 for access to abuse images, prosecutors said.",
    ],
    "date or period": [
        "The new grooming offence came into force on 3 April 2017.",
        "The child sexual abuse inquiry reported in 2022.",
    ],
    "time": ["The sexual abuse helpline opened at 9:30am on Monday."],
    "relative change": [
        "Reports of online grooming rose by 27% compared with the year before.",
        "Child sexual abuse image offences were up 64 per cent on 2019.",
        "There was a 12 per cent increase in sextortion reports.",
        "Sexual offences against children recorded online were 40 per cent higher than last year.",
    ],
    "multiple": ["The platform made 12 times as many reports of child sexual abuse material as its rival."],
    "rate": ["Police now record 31 online grooming crimes a day, the charity said."],
    "count of forces or companies": [
        "Of the 43 police forces asked about grooming offences, 39 replied.",
        "Child sexual abuse material was found on 87 platforms.",
    ],
    "count of people": [
        "The operation against child sexual exploitation led to 92 arrests.",
        "Officers safeguarded 215 children from sexual abuse last month.",
    ],
    "phone number": ["Anyone worried about child sexual abuse can call 0808 800 5000."],
    "votes and comments": ["Reader poll on the grooming story: 48 votes, 12 comments"],
    "share of victims by age or sex": [
        "Girls were the victims in 78% of the grooming offences recorded.",
        "Of the sexual abuse victims, 60% were aged 13 or younger.",
    ],
    "survey answers": ["Among young people who were sextorted, 22% said they told nobody."],
    "words without a number": ["The majority of sexual abuse images were found on messaging apps."],
    "off topic": [
        "Police recorded 5,321 fraud offences and 1,200 burglaries in the county.",
        "Some 64% of teenagers own a smartphone, the regulator found.",
    ],
}


@pytest.mark.parametrize(
    ("kind", "text"), [(kind, text) for kind, texts in NOT_FACTS.items() for text in texts]
)
def test_not_a_fact_kinds_produce_no_fact(kind, text):
    result = extract_document(doc(text))
    assert result.facts == [], f"{kind}: {[(f.count, f.share, f.quote) for f in result.facts]}"


def test_dropped_numbers_keep_their_reason_in_the_audit_trail():
    result = extract_document(doc("A girl aged 13 was groomed; the charity spent £4.2m on its campaign against sexual abuse."))
    reasons = {m.surface: m.reason for m in result.mentions}
    assert reasons["13"] == "age"
    assert reasons["4.2m"] == "money"
    assert all(m.decision == "dropped" for m in result.mentions)


def test_reader_comments_yield_no_facts():
    text = (
        "Police recorded 2,310 grooming offences in 2022/23, figures obtained by the NSPCC show.\n\n"
        "Leave a Reply\n\n"
        "Jim said: I reckon there were 9,999 grooming offences really.\n"
    )
    found = facts(text)
    assert [f.count for f in found] == [2310]
    dropped = [m for m in extract_document(doc(text)).mentions if m.surface == "9,999"]
    assert dropped and dropped[0].reason == "reader comments"


def test_page_furniture_lines_yield_no_facts():
    text = "Grooming crimes hit a record\n\n14\n27\n\nPolice recorded 3,020 grooming offences in 2021, the NSPCC said.\nREAD MORE: 400 arrests in abuse inquiry"
    assert [f.count for f in facts(text)] == [3020]


# ---------------------------------------------------------------- facts and their attributes


def test_count_with_source_region_offence_and_financial_year():
    f = only("Figures obtained by the NSPCC show police in Essex recorded 1,137 offences of sexual communication with a child in 2020/21.")
    assert (f.count, f.share, f.platform) == (1137, None, "all_platforms")
    assert (f.source, f.region, f.offence, f.year) == ("nspcc", "essex", "sexual_communication_with_a_child", 2021)
    assert (f.period_start, f.period_end) == (date(2020, 4, 1), date(2021, 3, 31))
    assert f.measure == "offences" and f.qualifier == "exact"


def test_count_and_share_stated_together_are_one_fact():
    f = only("The IWF said Snapchat was used in 212 (38.5%) of the grooming cases it examined in 2021.")
    assert (f.platform, f.count, f.share, f.source, f.year) == ("snapchat", 212, 0.385, "iwf", 2021)


def test_share_records_its_base_and_the_base_is_a_total_over_all_platforms():
    found = facts("Snapchat was used in 44 per cent of 1,912 grooming offences where the platform was known.")
    assert sorted((f.platform, f.count, f.share, f.base) for f in found) == [
        ("all_platforms", 1912, None, None),
        ("snapchat", None, 0.44, 1912),
    ]


def test_each_distributes_one_share_over_the_platforms_named():
    found = facts("Instagram and TikTok were each used in 15% of online grooming offences, the NSPCC found.")
    assert sorted((f.platform, f.share) for f in found) == [("instagram", 0.15), ("tiktok", 0.15)]
    assert len({f.fact_id for f in found}) == 2


def test_platforms_named_together_form_a_combined_slug():
    f = only("Facebook and WhatsApp were used in 31% of online grooming offences, the NSPCC said.")
    assert f.platform == "facebook+whatsapp"


def test_owner_group_phrase_is_meta_apps():
    f = only("Meta-owned apps, including Instagram, were used in 36% of grooming offences recorded by police.")
    assert f.platform == "meta_apps"


def test_online_figure_without_a_platform_is_online_any():
    f = only("Police in Kent recorded 845 child sexual offences with an online element in 2019.")
    assert f.platform == "online_any"
    assert f.offence == "online_child_sexual_offences"


def test_qualifier_and_multiplier():
    f = only("The CyberTipline received more than 18.4 million reports of child sexual abuse material in 2019, NCMEC said.")
    assert (f.count, f.qualifier, f.source, f.year) == (18_400_000, "more_than", "ncmec", 2019)


def test_figure_said_twice_is_one_fact():
    text = "Police recorded 4,612 grooming offences in 2022, the NSPCC said.\n\nThe 4,612 grooming offences were a record."
    assert [f.count for f in facts(text)] == [4612]


def test_rounded_restatement_of_a_precise_share_is_no_new_fact():
    text = "Snapchat was used in almost half of grooming offences.\n\nSnapchat was used in 48% of grooming offences, the NSPCC said."
    assert [(f.platform, f.share) for f in facts(text)] == [("snapchat", 0.48)]


def test_year_falls_back_to_the_published_date():
    f = only("Police recorded 610 grooming offences, the NSPCC said.", published=date(2024, 5, 2))
    assert f.year == 2024


def test_previous_year_figure_is_dated_a_year_earlier():
    found = facts("Police Scotland recorded 1,402 grooming crimes in 2022-23, up from 1,250 in the previous year.")
    assert sorted((f.count, f.year) for f in found) == [(1250, 2022), (1402, 2023)]


def test_table_rows_take_the_year_of_their_column():
    text = (
        "CyberTipline reports by category 2019 Reports 2020 Reports\n"
        "Online Enticement of Children for Sexual Acts 19,174 37,872\n"
        "Child Sex Trafficking 11,798 15,879\n"
    )
    found = {(f.offence, f.year): f.count for f in facts(text)}
    assert found[("online_enticement", 2019)] == 19174
    assert found[("child_sex_trafficking", 2020)] == 15879


def test_every_quote_is_its_span_of_the_text():
    text = (
        "Figures obtained by the NSPCC show 2,873 grooming offences in 2021/22. Snapchat was used in 41% of them, "
        "while WhatsApp and Instagram were each used in 9%."
    )
    found = facts(text)
    assert len(found) == 4
    assert span_errors(found, {"t.txt": text}) == []
    assert all(f.confidence and 0 < f.confidence <= 1 for f in found)


def test_fact_ids_are_stable_across_runs():
    text = "Police recorded 2,873 grooming offences in 2021/22, the NSPCC said."
    assert [f.fact_id for f in facts(text)] == [f.fact_id for f in facts(text)]


def test_comment_count_heading_opens_the_reader_comments():
    text = "Police recorded 2,904 grooming offences in 2023, the NSPCC said.\n\nComments (4)\nDave: surely 7,000 grooming offences"
    assert [f.count for f in facts(text)] == [2904]


def test_figure_the_year_before_is_dated_before_the_period_named_earlier():
    found = facts("The figure for 2020/21 was up from 1,480 grooming offences the year before, the NSPCC said.")
    assert [(f.count, f.year) for f in found] == [(1480, 2020)]


def test_share_does_not_take_the_period_of_a_later_figure():
    found = facts("Of these grooming offences, 64% involved Snapchat, up from 55% in 2019.", published=date(2021, 2, 1))
    assert sorted((f.share, f.year) for f in found) == [(0.55, 2019), (0.64, 2021)]


def test_owner_group_with_its_members_between_dashes_is_the_group():
    f = only("Meta-owned platforms - Facebook, Instagram and WhatsApp - were used in 38% of grooming offences.")
    assert (f.platform, f.share) == ("meta_apps", 0.38)


def test_a_team_of_people_is_not_a_count_of_offences():
    assert facts("A team of 25 analysts reviewed child sexual abuse reports for the charity.") == []


def test_a_sentence_starting_that_was_refers_back_to_the_figure_before():
    text = "Police in Avon recorded 214 grooming offences in 2022/23, the NSPCC said. That was up from 176 in the previous year."
    assert sorted((f.count, f.year) for f in facts(text)) == [(176, 2022), (214, 2023)]


def test_without_the_audit_trail_the_facts_are_the_same():
    text = (
        "Police recorded 5,441 sexual communication with a child offences in 2023/24, the NSPCC said.\n"
        "Reader comments\n12 people liked this. Call 0808 800 5000."
    )
    full = extract_document(doc(text))
    lean = extract_document(doc(text), audit=False)
    assert lean.facts == full.facts and len(full.facts) == 1
    assert lean.mentions == [] and len(full.mentions) >= 3


def test_a_document_without_a_word_of_the_topic_gives_no_facts_either_way():
    text = "The council recorded 5,441 potholes in 2023/24, and 60% of them were repaired within a week."
    assert extract_document(doc(text)).facts == []
    assert extract_document(doc(text), audit=False).facts == []
    assert len(extract_document(doc(text)).mentions) >= 2  # the audit trail still gives every number its reason


def test_a_count_written_with_plus_is_a_fact_bounded_from_below():
    f = only("Police recorded 3,000-plus online grooming offences on Snapchat in 2023, the NSPCC said.")
    assert (f.count, f.qualifier, f.platform) == (3000, "at_least", "snapchat")


def _fires(reason: str, text: str) -> bool:
    pattern = re.sub(r"\\\{\w+\\\}", ".+", re.escape(reason))  # a template's {word} stands for any word
    return any(re.fullmatch(pattern, m.reason) for m in extract_document(doc(text)).mentions)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.stage}:{r.test.__name__}")
def test_every_not_a_fact_rule_fires_on_its_example(rule):
    # A rule that is registered but shadowed, or whose right-hand cue is not in the union, never fires: this fails.
    assert _fires(rule.reason, rule.example), (rule.reason, rule.example)


def test_every_drop_reason_is_given_by_a_rule_or_named_where_it_is_made():
    by_rules = {r.reason for r in RULES}
    elsewhere = {  # made outside not_facts.RULES: layout, dating, what a count counts, merging, size
        Reason.READER_COMMENTS, Reason.DATE_HEADER, Reason.LINK, Reason.DATE, Reason.COUNT_OF_PEOPLE,
        Reason.COUNT_OF_ORGS, Reason.COUNTS_OTHER, Reason.SPELLED_WITHOUT_NOUN, Reason.TEAM_OF, Reason.COUNT_OF_PART,
        Reason.COUNT_AS_BEFORE, Reason.NO_COUNTED_NOUN, Reason.REPEAT_OF, Reason.REPEAT, Reason.TOO_LARGE,
    }
    assert set(Reason) == by_rules | elsewhere
    assert not by_rules & elsewhere


def test_the_union_of_right_hand_cues_matches_wherever_one_of_them_does():
    # the rules skip every right-hand cue when their union does not match; that is only safe while
    # each cue is a plain pattern (no flag but IGNORECASE, no groups a backreference could count)
    cues = [cue for r in RULES for cue in r.right]
    assert cues and not_facts._RIGHT_CUES.pattern == "|".join(f"(?:{c.pattern})" for c in cues)
    for cue in cues:
        assert cue.flags & ~(re.IGNORECASE | re.UNICODE) == 0 and cue.groups == 0, cue.pattern
    for right in [":30 pm", " pounds", " years old", "-year-old", " votes", " weeks", "-fold", " times", " increase on", "-Day"]:
        assert any(c.match(right) for c in cues) and not_facts._RIGHT_CUES.match(right), right


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        (Reason.READER_COMMENTS, "Police recorded 2,310 grooming offences on Snapchat.\n\nLeave a Reply\n\nJim said: 9,999 grooming offences.\n"),
        (Reason.DATE_HEADER, " date 2024-08-14 Police recorded 2,310 grooming offences on Snapchat."),
        (Reason.LINK, "Police recorded 2,310 grooming offences on Snapchat. Read more: 40 grooming offences"),
        (Reason.DATE, "The new grooming offence came into force on 3 April 2017."),
        (Reason.COUNT_OF_PEOPLE, "Officers safeguarded 215 children from sexual abuse last month."),
        (Reason.COUNT_OF_ORGS, "Child sexual abuse material was found on 87 platforms."),
        (Reason.COUNTS_OTHER, "The child sexual abuse unit on Snapchat seized 40 laptops."),
        (Reason.SPELLED_WITHOUT_NOUN, "Snapchat said twelve, the child sexual abuse charity noted."),
        (Reason.TEAM_OF, "Snapchat has a team of 25, the child sexual abuse charity said."),
        (Reason.COUNT_OF_PART, "Of the 43 police forces asked about grooming offences, 39 replied."),
        (Reason.COUNT_AS_BEFORE, "Snapchat banned 500 users and then 300 for child sexual abuse."),
        (Reason.NO_COUNTED_NOUN, "Child sexual abuse on Snapchat: 340."),
        (Reason.REPEAT_OF, "Police recorded 3,000 grooming offences on Snapchat. The 3,000 grooming offences on Snapchat were child sexual abuse."),
    ],
)
def test_drop_reasons_made_outside_the_rules_show_in_the_audit_trail(reason, text):
    assert _fires(reason, text), (reason, text)
