"""Attribute resolution: platform, region, offence, source, period and quote of a figure, nearest first."""

from __future__ import annotations

import calendar
import re
from collections import Counter
from datetime import date, timedelta

from pipeline.extractor.context import (
    BASELINE_LEFT,
    REGION_RANK,
    Context,
    clause_around,
    context_sentences,
    fold_regions,
    group_names,
    hits_in,
    outside,
    relative_spans,
)
from pipeline.extractor.figures import Unit
from pipeline.extractor.gazetteer import Hit
from pipeline.extractor.layout import Sentence
from pipeline.extractor.merge import Candidate
from pipeline.extractor.numbers import parse_spelled
from pipeline.extractor.periods import Period
from pipeline.extractor.scan import SPACES, matches_at, prefilter
from pipeline.metadata.taxonomy import Taxonomy

# Online cues are searched in a copy of a clause with some names blanked out, at the candidate places
# found in the original text: sound while no prefix holds white space (blanking makes white space, never
# a letter); tests/test_extractor_scan.py checks that it holds.
ONLINE = prefilter(re.compile(
    r"\bonline\b|\binternet\b|\bcyber|\bweb\b|\bdigital|\bsocial media\b|\bapps?\b|\bplatforms?\b(?! was)|\bwebsites?\b",
    re.I,
))


_EACH = prefilter(re.compile(r"\b(?:each|both|respectively)\b", re.I))


_RIGHT_PREP = prefilter(re.compile(r"\b(?:on|via|through|over|using|from|to|involving|involved|mentioned|mentioning|named|citing|(?:recorded|committed|carried out|reported|linked|offences|crimes|cases|instances|incidents|reports) with"
    r"|(?:platform|app|site|service)s?\s+(?:\w+\s+){0,4}(?:was|were|is))\s+(?:the\s+)?(?:\w+\s+){0,2}$", re.I))


_OR_OTHER = re.compile(r"^\s+or\s+other\s+$", re.I)


_INCLUDING = re.compile(r"^\s*,?\s*(?:including|such as|like|e\.g\.?)\s", re.I)


_PREV_YEAR = prefilter(re.compile(
    r"\b(?:the|a)\s+(?:previous|prior|preceding)\s+(?:financial\s+|calendar\s+|reporting\s+)?year\b|\byear\s+(?:before|earlier)\b"
    r"|\ba year earlier\b|\b(?:the\s+)?(?:previous|prior|preceding)\s+(?:12|twelve)\s+months\b",
    re.I,
))
# a comparison word before "the previous year" makes it the baseline of a comparison, said of the next figure
_COMPARED_BEFORE = re.compile(r"\b(?:from|than|on|over|compared (?:to|with)|against|versus|vs\.?)\s+$", re.I)
# "since the offence came into force in 2017": a start, and the figure runs to the document's date
_SINCE_START = prefilter(re.compile(
    r"\bsince\s+(?:the\s+|it\s+|its\s+)?(?:[\w-]+\s+){0,4}?(?:first\s+)?(?:came\s+into\s+(?:force|effect)|was\s+(?:introduced|created|"
    r"established|launched|set\s+up)|began|started|launched|opened)\s+(?:in|on)\s+$",
    re.I,
))


_YEARS_AGO = re.compile(r"\b(\w+)\s+years?\s+ago\b", re.I)


_FOLLOWING_OR_SAME = prefilter(re.compile(
    r"\b(?:in\s+)?(?:the|that)\s+same\s+(?:year|period)\b|\b(?:the\s+)?(?:following|next|subsequent)\s+year\b"
    r"|\bthe\s+year\s+(?:that\s+)?followed\b|\ba\s+year\s+later\b",
    re.I,
))


_NOW = prefilter(re.compile(r"\b(?:currently|at present|presently|right now|as it stands)\b", re.I))


_LAST_YEAR = prefilter(re.compile(r"\blast\s+year\b", re.I))




_FIRST_OF_NEW = prefilter(re.compile(
    r"\bfirst\s+(?:(\w+)\s+(months?|years?)|year)\s+(?:of|since|after)\s+(?:a|the)\s+new\s+(?:law|offence|offense)", re.I
))


_SINCE_LEFT = prefilter(re.compile(r"\bsince\s+(?:the\s+)?$", re.I))


_STATUTE_LEFT = re.compile(r"\b(?:Act|Order|Regulations|Directive|Bill)(?:\s+of)?\s+$")


_UP_FROM_LEFT = prefilter(re.compile(r"\b(?:up|down|rising|rose|fell|falling|dropped|increased|decreased)?\s*from\s+(?:the\s+)?$", re.I))


_NATIONAL = prefilter(re.compile(r"\bnational(?:ly)?\b|across the country|\bnationwide\b|\ball (?:police )?forces\b|\bevery (?:police )?force\b", re.I))


_REGION_AFTER = re.compile(r"\b(?:in|across|throughout|for|from|(?<!followed )by)\s+(?:the\s+)?(?:\w+\s+){0,1}$", re.I)


_OFFENCE_AFTER = re.compile(r"\s+(?:[\w-]+\s+){0,3}(?:of\s+|for\s+|involving\s+|relating to\s+|related to\s+|where\s+)?(?:[\w-]+\s+){0,2}")


_PLUS_AND = re.compile(r",\s*(?:plus|and)\b|\bas well as\b")


_FROM_TO_RIGHT = re.compile(r"\s*(?:\w+\s+){0,3}to\s+")


_TO_LEFT = prefilter(re.compile(r"\bto\s+$"))


_FROM = prefilter(re.compile(r"\bfrom\b"))


_QUOTE_LEAD = re.compile(r"^[\s,;:–—\-(]*(?:and\s+|or\s+|but\s+|while\s+)?")


_QUOTE_TAIL = re.compile(r"[\s,;:–—\-(]*(?:\s(?:and|or|but|while|with|to|from|of|the|a|an))*[\s,;:–—\-(]*$")


_TAIL_CHARS = ",;:–—-(" + "andorbutwhilewithtofromofthea" + SPACES


NEGATED_LEFT = re.compile(r"\b(?:without|not|no|offline)\s+(?:the\s+|an?\s+)?$", re.I)


CHILDREN = prefilter(re.compile(r"\bchild(?:ren)?\b|under[- ]18s?|\bminors?\b", re.I))








_OWNER_IN_BRACKETS = re.compile(r"\s*\(\s*")


def _platform_of_group(group: list[Hit], text: str, tax: Taxonomy) -> list[str]:
    """Slugs a group of platform names stands for."""
    slugs = [h.slug for h in group]
    groups = [s for s in slugs if tax.platforms.get(s, {}).get("kind") == "group"]
    if groups:
        owner = tax.platforms[groups[0]].get("owner_group")
        g_hit = next(h for h in group if h.slug == groups[0])
        before = [h for h in group if h.end <= g_hit.start]
        if before and _OWNER_IN_BRACKETS.fullmatch(text[before[-1].end : g_hit.start]) and all(
            tax.platforms.get(h.slug, {}).get("owner_group") == owner for h in before
        ):
            return sorted({h.slug for h in before})  # "WhatsApp (Meta)": the app, its owner in brackets
        members = [h for h in group if h.start > g_hit.start and h.slug not in groups]
        gap = text[g_hit.end : members[0].start] if members else ""
        if members and gap and gap.isspace():
            # "Facebook owned apps Instagram and WhatsApp": the apps named
            return sorted({h.slug for h in members})
        others = [s for s in slugs if s not in groups and tax.platforms.get(s, {}).get("owner_group") != owner]
        return sorted({groups[0], *others})
    # "messaging app Snapchat": a category named right before a platform is that platform
    kinds = [tax.platforms.get(s, {}).get("kind") for s in slugs]
    if "category" in kinds and len(slugs) > 1:
        specific = [s for s, k in zip(slugs, kinds, strict=True) if k != "category"]
        if specific:
            slugs = specific
    # "social media or other communication platforms": the wider term
    if len(group) == 2 and _OR_OTHER.match(text[group[0].end : group[1].start]):
        slugs = [group[1].slug]
    return sorted(set(slugs))


def choose_region(ctx: Context, sent: Sentence, idx: int, u: Unit, clause: tuple[int, int], seg: tuple[int, int]) -> tuple[str | None, str]:
    """(region, where it came from: clause | sentence | national | context | default)."""
    found = _region_in_sentence(ctx, sent, u, clause, seg)
    if found is not _NOT_FOUND:
        return found  # type: ignore[return-value]
    if ctx.search_in(_GLOBAL_WORDS, seg[0], seg[1]):
        return ctx.gaz.global_region, "clause"  # "80% of global referrals": the figure's own words give its scope
    if ctx.search(_NATIONAL, sent.start, sent.end):
        return ctx.widest_region, "national"
    for s in context_sentences(ctx, idx):
        hits = hits_in(ctx.regions, s.start, s.end)
        if hits:
            folded = fold_regions({h.slug for h in hits}, ctx.tax)
            if folded:
                return folded, lead_origin(ctx, sent) if s.start == _lead_start(ctx, sent) else "context"
    # the sentence right before stated its figures' scope ("Nationally, out of 9,259 ... Only 3% were from
    # WhatsApp"): a figure that names none continues it
    chain = ctx.once.get("region_chain")
    if chain is not None and chain[1] == idx - 1 and len(chain[0]) == 1 and None not in chain[0] and not sent.is_item and sent.item_of is None:
        return next(iter(chain[0])), "context"  # one scope, not a list of forces' figures ("those" are of them all)
    return ctx.default_region, "title" if ctx.title_region else "default"


def chain_region(ctx: Context, idx: int, region: str | None, how: str) -> None:
    """Remember the scopes the figures of a sentence state (None: one stated none): one scope is what a figure
    of the next sentence naming none continues."""
    chain = ctx.once.get("region_chain")
    if chain is None or chain[1] != idx:
        scopes: set[str | None] = set()
        chain = ctx.once["region_chain"] = (scopes, idx)
    chain[0].add(region if how in ("clause", "sentence", "national") and region else None)


def _lead_start(ctx: Context, sent: Sentence) -> int:
    return ctx.lay.sentences[sent.item_of].start if sent.item_of is not None else -1


def lead_origin(ctx: Context, sent: Sentence) -> str:
    """'heading' for rows under a heading line, 'context' for items of a lead-in sentence ending with ':'."""
    lead = ctx.lay.sentences[sent.item_of] if sent.item_of is not None else None
    return "heading" if lead is not None and not ctx.text[lead.start : lead.end].rstrip().endswith(":") else "context"


_NOT_FOUND = object()


_GLOBAL_WORDS = re.compile(r"\bglobal(?:ly)?\b|\bworld-?wide\b|\b(?:around|across) the (?:world|globe)\b", re.I)


_SCOPE_ANAPHOR = re.compile(r"\b(?:the|this|that|its)\s+(?:region|county|area|force area|city|borough)\b", re.I)


def _region_in_sentence(ctx: Context, sent: Sentence, u: Unit, clause: tuple[int, int], seg: tuple[int, int]) -> object:
    text = ctx.text
    rel = relative_spans(ctx, sent, u.number_start)
    in_sentence = outside(hits_in(ctx.regions, sent.start, sent.end), rel)
    if in_sentence:
        right = [h for h in in_sentence if seg[0] <= h.start < seg[1] and h.start >= u.end]
        right = [h for h in right if _REGION_AFTER.search(text[u.end : h.start])]
        if right:
            group = next(g for g in group_names(in_sentence, text, ctx.tax) if right[0] in g)
            return fold_regions({h.slug for h in group}, ctx.tax), "clause"  # several regions named: None, the figure spans them
        left = [h for h in in_sentence if h.end <= u.start]
        if left:
            groups = group_names(left, text, ctx.tax)
            nearest = groups[-1]
            folded = fold_regions({h.slug for h in nearest}, ctx.tax)
            if folded or len(nearest) > 1:
                if _SCOPE_ANAPHOR.search(text, nearest[-1].end, u.start):
                    # "forces in the UK, the charity found the region had 482": the document's own scope
                    return ctx.default_region, "title" if ctx.title_region else "default"
                return folded, "clause" if nearest[0].start >= clause[0] else "sentence"
    return _NOT_FOUND


def choose_offence(ctx: Context, sent: Sentence, idx: int, u: Unit, measure: str | None, clause: tuple[int, int]) -> tuple[str | None, str]:
    """(offence, where it came from: clause | sentence | context | document | none)."""
    text = ctx.text
    material = {r.slug for r in ctx.tax.rules.offence_rules_when("material")}
    in_sentence = hits_in(ctx.offences, sent.start, sent.end)

    def prefer(hits: list[Hit]) -> str | None:
        if not hits:
            return None
        if measure not in ("reports", "images"):
            crimes = [h for h in hits if h.slug not in material]
            if crimes:
                return crimes[0].slug
        return hits[0].slug

    if in_sentence:
        after = [h for h in in_sentence if h.start >= u.end and _OFFENCE_AFTER.fullmatch(text[u.end : h.start] + " ")]
        if after:
            return prefer(after), "clause"
        left = [h for h in in_sentence if h.end <= u.start and h.start >= clause[0]]
        if left:
            return left[-1].slug, "clause"
        right = [h for h in in_sentence if h.start >= u.end and h.start < clause[1]
                 and not _PLUS_AND.search(text[u.end : h.start])]
        if right:
            return prefer(right), "clause"
    chain = ctx.once.get("offence_chain")
    if (chain is not None and idx - chain[1] <= ANCHOR_BACK and ctx.search_in(_BACK_TO_FIGURE, sent.start, sent.end)
            and not (measure == "offences" and chain[0] in material)):
        return chain[0], "context"  # "two thirds of this total": the offence of the figure referred back to
    for s in context_sentences(ctx, idx):
        hits = hits_in(ctx.offences, s.start, s.end)
        if measure == "offences":
            hits = [h for h in hits if h.slug not in material]  # "images" said before "38% of offences" is no offence
        if hits:
            return prefer(hits), "context"
    # the offence of the figures just before holds until another is named ("communicating indecently ...
    # rose from 103 to 165. In 2010 there were only 15 recorded offences.")
    # Not in a sentence naming another offence, a table or a list (its rows and items are siblings), nor for
    # a remainder or a total ("the remaining 4,365 offences", "Grand Total"): those are of the whole.
    if (chain is not None and idx - chain[1] <= ANCHOR_BACK and not (measure == "offences" and chain[0] in material)
            and not in_sentence and idx not in ctx.table_rows and not sent.is_item and sent.item_of is None
            and not ctx.search_in(_REMAINDER, sent.start, u.end)):
        return chain[0], "context"
    return ctx.default_offence, "document" if ctx.default_offence else "none"


_BACK_TO_FIGURE = prefilter(re.compile(r"\b(?:this|that|the same)\s+(?:total|figure|number)\b|\bof\s+(?:these|those)\s+(?:offences|crimes|cases|reports)\b", re.I))


_REMAINDER = prefilter(re.compile(r"\b(?:remaining|remainder|rest|other|others|total|totals|overall|altogether)\b", re.I))


def chain_offence(ctx: Context, idx: int, offence: str | None, origin: str) -> None:
    """Remember the offence a figure names (or took from the sentences before): the next figures' chain."""
    if offence is not None and origin in ("clause", "context"):
        ctx.once["offence_chain"] = (offence, idx)


_FORCE_NAMED = prefilter(re.compile(r"\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)* (?:Police|Constabulary)\b(?! Scotland| Service of)|\bthe force\b"))


_SEVERAL_FORCES = prefilter(re.compile(
    r"\b(?:\d+|all|several|many|multiple|other|[a-z]+ty(?:-[a-z]+)?)\s+(?:of\s+the\s+)?(?:\w+\s+)?(?:police\s+)?forces\b|\bforces\s+(?:in|across)\b",
    re.I,
))


_PASSED_ON = re.compile(
    r"\b(?:forward(?:ed|s|ing)?|pass(?:ed|es|ing)?(?:\s+on)?|refer(?:red|s|ring)?(?:\s+on)?|sen[dt]s?(?:\s+on)?)\s+(?:\w+\s+){0,3}?to\s+(?:the\s+)?$"
    r"|\breceived\b[^.;]{0,80}\bfrom\s+(?:the\s+)?$",
    re.I,
)


def _once(ctx: Context, key: str, compute):
    """A per-document value, computed on first use."""
    if key not in ctx.once:
        ctx.once[key] = compute()
    return ctx.once[key]


def choose_source(ctx: Context, sent: Sentence, idx: int, u: Unit) -> tuple[str | None, str]:
    """(source, where it came from: clause | sentence | context | document | none)."""
    company = _company_reporting(ctx, sent, u)
    if company:
        return company, "clause"
    in_sentence = hits_in(ctx.sources, sent.start, sent.end)
    # "forwarded to NCMEC", "received 1,200 referrals from NCMEC": the body passed to or from is not the compiler
    compilers = [h for h in in_sentence if not ctx.search_in(_PASSED_ON, max(sent.start, h.start - 80), h.start)]
    in_sentence = compilers or in_sentence
    if in_sentence:
        return min(in_sentence, key=lambda h: abs(h.start - u.start)).slug, "sentence"
    for s in context_sentences(ctx, idx):
        hits = hits_in(ctx.sources, s.start, s.end)
        if hits:
            return hits[0].slug, "context"
    if (ctx.default_source is None and _once(ctx, "force_named", lambda: ctx.search(_FORCE_NAMED, 0, len(ctx.text)) is not None)
            and not ctx.search_in(_SEVERAL_FORCES, sent.start, sent.end)):
        # no body with a slug is named: one force's own figures (its area is the region); not a figure
        # gathered from "28 forces" or "all police forces in the UK", whose compiler the taxonomy lacks
        return "police_force", "document"
    return ctx.default_source, "document" if ctx.default_source else "none"


# "Facebook said it detected 13 million", "Facebook and Instagram sent over 3.7 million": the company's own count
_SELF_REPORT = re.compile(
    r"\s+(?:(?:has|have)\s+)?(?:said|says|reported|revealed|disclosed|announced)?\s*(?:that\s+)?(?:it|they)?\s*(?:has\s+|had\s+|have\s+)?"
    r"(?:detected|removed|took\s+down|taken\s+down|sent|made|submitted|filed|reported|flagged|actioned|took\s+action\s+on|found|deleted)\s+$",
    re.I,
)


def _company_reporting(ctx: Context, sent: Sentence, u: Unit) -> str | None:
    """The source slug of a platform's owner when the platform itself reports the figure (its transparency count)."""
    left = list(hits_in(ctx.platforms, sent.start, u.start))
    if not left:
        return None
    group = group_names(left, ctx.text, ctx.tax)[-1]
    between = ctx.text[group[-1].end : u.start]
    if len(between) > 60 or not _SELF_REPORT.fullmatch(between):
        return None
    owners = {ctx.tax.platforms.get(h.slug, {}).get("owner_group") for h in group}
    owner = next(iter(owners)) if len(owners) == 1 else None
    return owner if owner and owner in ctx.tax.sources else None


_PARTITIVE_START = re.compile(r"^[\W\d]*(?:of|among)\s+(?:those|these|them|which)\b", re.I)


# "involving the app", "the platform's users", "seized the servers": a platform named before, referred back to
_PLATFORM_ANAPHOR = prefilter(re.compile(
    r"\b(?:the|this|that)\s+(?:[\w-]+\s+){0,2}?(?:app|application|platform|site|website|service|network|forum|servers?)\b(?!\s+of\b)",
    re.I,
))


def _platform_named_before(ctx: Context, idx: int) -> tuple[list[str], list[int]]:
    """The one platform the sentences before name (nearest first, ANCHOR_BACK at most, any paragraph),
    if that is a single app or service, not a category or several platforms."""
    sents = ctx.lay.sentences
    for j in range(idx - 1, max(-1, idx - 1 - ANCHOR_BACK), -1):
        hits = hits_in(ctx.platforms, sents[j].start, sents[j].end)
        if not hits:
            continue
        slugs = {h.slug for h in hits}
        if len(slugs) != 1 or ctx.tax.platforms.get(hits[0].slug, {}).get("kind") in ("category", "group"):
            return [], []
        return [hits[0].slug], [hits[-1].start]
    return [], []


def inherited_platforms(ctx: Context, sent: Sentence, idx: int, clause: tuple[int, int] | None = None) -> tuple[list[str], list[int]]:
    """'Facebook and Instagram sent 3.7 million reports. Of those reports, 48 thousand ...': a breakdown
    that names no platform is on the platform of the total it breaks down (named in the sentence before);
    'Kik ... 1,147 investigations involving the app': a definite 'the app' refers to the one app named before."""
    if idx > 0 and clause is not None and ctx.search_in(_PLATFORM_ANAPHOR, sent.start, sent.end) \
            and not hits_in(ctx.platforms, sent.start, sent.end):
        named = _platform_named_before(ctx, idx)
        if named[0]:
            return named
    if idx == 0 or not _PARTITIVE_START.match(ctx.text[sent.start : sent.start + 40]):
        return [], []
    before = ctx.lay.sentences[idx - 1]
    hits = hits_in(ctx.platforms, before.start, before.end)
    groups = group_names(hits, ctx.text, ctx.tax)
    if len(groups) != 1:
        return [], []
    return ["+".join(_platform_of_group(groups[0], ctx.text, ctx.tax))], [groups[0][0].start]


def inherit_from_totals(ctx: Context, candidates: list[Candidate]) -> None:
    """A breakdown ('Of those reports, ...') that names no source, offence or period has those of the total before it."""
    by_sentence: dict[int, list[Candidate]] = {}
    for c in candidates:
        by_sentence.setdefault(c.sentence_index, []).append(c)
    for c in candidates:
        if c.origins.get("source") in ("clause", "sentence") or c.sentence_index == 0:
            continue
        sent = ctx.lay.sentences[c.sentence_index]
        earlier_sides = ctx.once.get("comparison_sides", set())
        totals = [t for t in by_sentence.get(c.sentence_index - 1, []) if t.unit.start not in earlier_sides]
        if totals and _PARTITIVE_START.match(ctx.text[sent.start : sent.start + 40]):
            if totals[-1].source:
                c.source, c.origins["source"] = totals[-1].source, "context"
            if c.origins.get("offence") != "clause" and totals[-1].offence:
                c.offence, c.origins["offence"] = totals[-1].offence, "context"  # a breakdown counts its total's offence
            if c.period[2] is None and totals[-1].period[2] is not None:
                c.period, c.origins["year"] = totals[-1].period, "context"  # and is of its total's period


def _owned_app(ctx: Context, groups: list[list[Hit]], chosen: list[Hit]) -> list[Hit]:
    """'WhatsApp (Meta) 12%': an owner named in brackets after its app names the app's owner, not the figure's platform."""
    tax = ctx.tax
    if len(chosen) != 1 or tax.platforms.get(chosen[0].slug, {}).get("kind") != "group":
        return chosen
    k = next((i for i, g in enumerate(groups) if g is chosen), 0)
    if k == 0 or not _OWNER_IN_BRACKETS.fullmatch(ctx.text[groups[k - 1][-1].end : chosen[0].start]):
        return chosen
    owner = tax.platforms[chosen[0].slug].get("owner_group")
    app = groups[k - 1]
    return app if all(tax.platforms.get(h.slug, {}).get("owner_group") == owner for h in app) else chosen


def _antecedent(ctx: Context, groups: list[list[Hit]], chosen: list[Hit]) -> list[Hit]:
    """'Snapchat was the app most used, with the messaging app present in 48%': a category named with 'the'
    after a platform of that kind is that platform."""
    tax = ctx.tax
    if len(chosen) != 1 or tax.platforms.get(chosen[0].slug, {}).get("kind") != "category":
        return chosen
    if not _DEFINITE_LEFT.search(ctx.text[max(0, chosen[0].start - 5) : chosen[0].start]):
        return chosen
    earlier = [g for g in groups if g[-1].end <= chosen[0].start and g is not chosen]
    if earlier and len(earlier[-1]) == 1 and tax.platforms.get(earlier[-1][0].slug, {}).get("kind") not in ("category", "group"):
        return earlier[-1]
    return chosen


_WORD = re.compile(r"[\w.+-]*\w")
_PLATFORM_SUBJECT = re.compile(r"^\W*(?:the|a)\s+(?:[\w-]+\s+){0,3}?(?:platform|app|site|service|network)s?\b(?![^,]*\b(?:was|were|is)\b)", re.I)
_IS_PREDICATE = re.compile(r"[^.;:]{0,60}?\b(?:was|were|is)\s+(?:the\s+)?(?:\w+\s+){0,2}", re.I)


_DEFINITE_LEFT = re.compile(r"\b(?:the|this|that)\s+$", re.I)


def choose_platforms(ctx: Context, sent: Sentence, u: Unit, seg: tuple[int, int]) -> tuple[list[str], list[int]]:
    """(platform slugs, where each was named); ([], []) when none is named. 'Each' gives one slug per platform."""
    text = ctx.text
    rel = relative_spans(ctx, sent, u.number_start)
    hits = outside(hits_in(ctx.platforms, sent.start, sent.end), rel)
    hits = [h for h in hits if not (u.start <= h.start < u.end)]
    if not hits:
        return [], []
    groups = group_names(hits, text, ctx.tax)
    right = [g for g in groups if u.end <= g[0].start < seg[1] and (
        ctx.search_in(_RIGHT_PREP, u.end, g[0].start) or (sent.is_item and g[0].start - u.end <= 2)  # a row "44 Snapchat"
    )]
    chosen = right[0] if right else None
    if chosen is None and _PLATFORM_SUBJECT.match(text[sent.start : u.start]):
        # "The platform most used by offenders, in 112 of the offences, was Snapchat": the subject's predicate
        after = [g for g in groups if g[0].start >= u.end and _IS_PREDICATE.fullmatch(text[u.end : g[0].start])]
        chosen = after[0] if after else None
    if chosen is None:
        left = [g for g in groups if g[-1].end <= u.start]
        if left:
            chosen = left[-1]
    if chosen is None:
        return [], []
    chosen = _antecedent(ctx, groups, chosen)
    chosen = _owned_app(ctx, groups, chosen)
    slugs = _platform_of_group(chosen, text, ctx.tax)
    each = (
        len(slugs) > 1
        and ctx.search_in(_EACH, chosen[-1].end, min(sent.end, u.end + 30)) is not None
        and not _INCLUDING.match(text[chosen[-1].end : chosen[-1].end + 15])
    )
    if each:
        starts = []
        for s in slugs:
            starts.append(next(h.start for h in chosen if h.slug == s))
        return slugs, starts
    return ["+".join(slugs)], [chosen[0].start]


def period_for(ctx: Context, sent: Sentence, idx: int, u: Unit, seg: tuple[int, int], lseg: tuple[int, int], offence: str | None, units_after: list[Unit]) -> tuple[date | None, date | None, int | None, str]:
    """(first day, last day, year, where the year came from: clause | sentence | table | context | none).

    A figure's own current period (not the earlier side of a comparison, "five years ago" or "the previous
    year") becomes the chain's last link: what "the same year" of a later figure refers to."""
    first, last, year, origin = _period_for(ctx, sent, idx, u, seg, lseg, offence, units_after)
    comparison, _, origin = origin.rpartition(":")
    if comparison:
        ctx.once.setdefault("comparison_sides", set()).add(u.start)  # the earlier side: no total a breakdown is of
    if year is not None and not comparison and origin not in ("document", "none"):
        ctx.once["chain"] = (first, last, year, idx)
    return first, last, year, origin


def _period_for(ctx: Context, sent: Sentence, idx: int, u: Unit, seg: tuple[int, int], lseg: tuple[int, int], offence: str | None, units_after: list[Unit]) -> tuple[date | None, date | None, int | None, str]:
    text = ctx.text
    if idx in ctx.table_rows:
        cols, _ = ctx.table_rows[idx]
        nums = [n for n in ctx.numbers(sent) if not n.is_share]
        for col, n in zip(cols, nums, strict=False):
            if n.start == u.numbers[0].start:
                return date(col, 1, 1), date(col, 12, 31), col, "table"
    clause_start = clause_around(ctx, sent, u.start)[0]
    own = [p for p in ctx.periods_starting_in(*seg) if p.kind != "date" and not _is_baseline(ctx, p)]
    prev_right = _previous_year_of(ctx, seg[0], seg[1])
    # "... from the previous year, when there were 122": the earlier period, said before the figure
    prev_left = _previous_year_before(ctx, sent, u)
    relation = prev_right or prev_left or ctx.search_in(_UP_FROM_LEFT, max(sent.start, u.start - 20), u.start)
    if not own and not relation and lseg[0] == clause_start:
        own = [p for p in ctx.periods_starting_in(*lseg) if p.kind != "date" and not _is_statute_year(ctx, p)]
        own = own[-1:]
    if own:
        return (*_dates_of(ctx, own[0]), "clause")
    reference_year = ctx.default_year
    main = [p for p in ctx.periods_starting_in(sent.start, seg[1]) if p.kind != "date" and p.year
            and not _is_baseline(ctx, p)]
    if main:
        reference_year = main[-1].year
    window = text[seg[0] : seg[1]] + " " + text[lseg[0] : lseg[1]]
    if not main and not relation and ctx.search_in(_NOW, *clause_around(ctx, sent, u.number_start)):
        # "Facebook and Instagram currently account for 80%": the document's date, unknown if it has none
        return None, None, ctx.published.year if ctx.published else None, "comparison:published"
    if prev_right or prev_left:
        # "This is eight times as many as the previous year": relative to the period of the sentences it continues
        inherited = None if main else _context_period(ctx, idx)
        chained = None if main or inherited is not None else _chained_period(ctx, idx)
        # "... reached 275,000 last year, up from 252,000 the year before": the year before the chain's period
        previous_of = inherited.year if inherited is not None and inherited.year else chained[2] if chained else reference_year
        if previous_of:
            return None, None, previous_of - 1, "comparison:sentence" if main else "comparison:context"
    relative = None if main else (
        ctx.search_in(_FOLLOWING_OR_SAME, max(sent.start, u.start - 80), u.start) or ctx.search_in(_FOLLOWING_OR_SAME, *seg)
    )
    if relative:
        resolved = _relative_period(ctx, idx, relative.group(0))
        if resolved is not None:
            return (*resolved, "context")
    ago = _YEARS_AGO.search(window) if "ago" in window.lower() else None
    if ago and reference_year:
        years_ago = int(ago.group(1)) if ago.group(1).isdigit() else parse_spelled(ago.group(1))
        if years_ago:
            return None, None, reference_year - years_ago, "comparison:clause"
    # "last year" in the figure's own words, or once before it in a sentence naming no other period
    if _LAST_YEAR.search(window) or (not main and ctx.search_in(_LAST_YEAR, sent.start, u.start)):
        return (*_last_year(ctx), "clause")
    first_months = _first_months_of_new_offence(ctx, sent, offence)
    if first_months:
        return (*first_months, "sentence")
    # "dropped from 96 to 79": the first figure is the earlier period
    if units_after and ctx.search_in(_UP_FROM_LEFT, max(sent.start, u.start - 20), u.start) and reference_year:
        nxt = units_after[0]
        if _FROM_TO_RIGHT.fullmatch(text[u.end : nxt.start]):
            return None, None, reference_year - 1, "comparison:sentence"
    if ctx.search_in(_TO_LEFT, max(sent.start, u.start - 10), u.start) and ctx.search_in(_FROM, sent.start, u.start):
        # "went from 668 in 2021/22 to 765": the later figure is the current one, of the period the sentence
        # names before "from" ("a decline in 2024, dropping from 36.2 million to 29.2 million"), else the document's
        from_at = sent.start + [m.start() for m in _FROM.finditer(text[sent.start : u.start])][-1]
        before_from = [p for p in main if p.end <= from_at]
        if before_from:
            return (*_dates_of(ctx, before_from[-1]), "sentence")
        return None, None, ctx.default_year, "document"
    if main:
        return (*_dates_of(ctx, main[-1]), "sentence")
    if sent.item_of is not None:
        lead = ctx.lay.sentences[sent.item_of]
        ps = [p for p in ctx.periods_starting_in(lead.start, lead.end) if p.kind != "date" and p.year]
        if ps:
            return (*_dates_of(ctx, ps[-1]), lead_origin(ctx, sent))
    # a breakdown inherits its total's period: the nearest period of the sentences it continues
    inherited = _context_period(ctx, idx)
    if inherited is not None:
        return (*_dates_of(ctx, inherited), "context")
    return None, None, None, "none"  # the document's reference year is filled in later


ANCHOR_BACK = 6  # sentences a relative period ("the year that followed") may look back for what it follows


def _relative_period(ctx: Context, idx: int, cue: str) -> tuple[date | None, date | None, int | None] | None:
    """'the same year': the period of the last figure that had one of its own (the chain of periods);
    'the year that followed', 'the following year': the twelve months after the period or event named before
    ('An anti-grooming law was introduced in April 2017. In the year that followed, ...')."""
    if cue.lower().lstrip().startswith(("in the same", "in that same", "the same", "that same")):
        chain = _chained_period(ctx, idx)
        if chain is not None:
            return chain
        anchor = _anchor_period(ctx, idx, events=False)
        return _dates_of(ctx, anchor) if anchor is not None else None
    anchor = _anchor_period(ctx, idx, events=True)
    if anchor is None or anchor.first is None:
        return None
    first: date | None = anchor.first
    if not (anchor.kind in ("date", "month") or (anchor.last and (anchor.last - anchor.first).days < 300)):
        first = anchor.last + timedelta(days=1) if anchor.last else None
    # else the twelve months from an event: "introduced in April 2017" -> April 2017 to March 2018
    if first is None:
        return None
    last = _add_months(first, 12) - timedelta(days=1)
    return first, last, last.year


def _chained_period(ctx: Context, idx: int) -> tuple[date | None, date | None, int | None] | None:
    """The current period of the last figure that had one (ANCHOR_BACK sentences back at most)."""
    chain = ctx.once.get("chain")
    return chain[:3] if chain is not None and idx - chain[3] <= ANCHOR_BACK else None


def _add_months(d: date, months: int) -> date:
    month = d.month - 1 + months
    year = d.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _anchor_period(ctx: Context, idx: int, *, events: bool) -> Period | None:
    """The nearest reference period named in the sentences before (any paragraph, ANCHOR_BACK at most);
    with ``events`` a start or a date ("launched in", "introduced on 3 April 2017") counts as what followed."""
    sents = ctx.lay.sentences
    for j in range(idx - 1, max(-1, idx - 1 - ANCHOR_BACK), -1):
        s = sents[j]
        ps = [p for p in ctx.periods_starting_in(s.start, s.end) if p.year and not _is_statute_year(ctx, p)
              and (events or (p.kind != "date" and not _is_baseline(ctx, p)))]
        if ps:
            return ps[-1]
    return None


def _context_period(ctx: Context, idx: int) -> Period | None:
    """The nearest reference period of the sentences a figure's sentence continues (context_sentences)."""
    for s in context_sentences(ctx, idx):
        ps = [p for p in ctx.periods_starting_in(s.start, s.end) if p.kind != "date" and p.year and not _is_baseline(ctx, p)]
        if ps:
            return ps[-1]
    return None


def _first_months_of_new_offence(ctx: Context, sent: Sentence, offence: str | None) -> tuple[date, date, int] | None:
    """'in the first six months of the new offence': from the day the offence came into force."""
    first_new = ctx.search(_FIRST_OF_NEW, sent.start, sent.end)
    if not first_new or offence not in ctx.gaz.offence_start:
        return None
    begin = ctx.gaz.offence_start[offence]
    if first_new.group(2) and first_new.group(2).lower().startswith("month"):
        n = int(first_new.group(1)) if first_new.group(1).isdigit() else (parse_spelled(first_new.group(1)) or 12)
    else:
        n = 12
    month = begin.month + n - 1
    year = begin.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    last = date(year, month, calendar.monthrange(year, month)[1])
    return begin, last, last.year


def _is_statute_year(ctx: Context, p: Period) -> bool:
    """'the Sexual Offences Act 2003': the year of a law, not a reference period."""
    return ctx.search_in(_STATUTE_LEFT, max(0, p.start - 14), p.start) is not None


def _is_baseline(ctx: Context, p: Period) -> bool:
    return ctx.search_in(BASELINE_LEFT, max(0, p.start - 25), p.start) is not None or _is_statute_year(ctx, p)


def _previous_year_of(ctx: Context, start: int, end: int):
    """'the previous year' right of a figure, unless a comparison word makes it the baseline said of the next one."""
    m = ctx.search_in(_PREV_YEAR, start, end)
    if m is None:
        return None
    at = start + m.start()
    if _COMPARED_BEFORE.search(ctx.text[max(start, at - 30) : at]) and at - start > 12:
        return None
    return m


def _previous_year_before(ctx: Context, sent: Sentence, u: Unit):
    """'the previous year, when there were 122': said before the figure, no other number between them."""
    start = max(sent.start, u.start - 80)
    m = ctx.search_in(_PREV_YEAR, start, u.start)
    if m is None or any(c.isdigit() for c in ctx.text[start + m.end() : u.start]):
        return None
    return m


def _document_end(ctx: Context) -> date | None:
    """The document's date; without one, the end of the latest reference period it names."""
    return _once(ctx, "document_end", lambda: _find_document_end(ctx))


def _find_document_end(ctx: Context) -> date | None:
    if ctx.published:
        return ctx.published
    ends = [p.last for p in ctx.periods if p.last and p.kind in ("financial_year", "range", "year_to", "year") and not _is_statute_year(ctx, p)]
    if ends:
        return max(ends)
    return date(ctx.default_year, 12, 31) if ctx.default_year else None


def _last_year(ctx: Context) -> tuple[date | None, date | None, int | None]:
    """'last year': the latest reference period named that ended in the year before publication
    (a financial year ending in March of the publication year included), else the calendar year before."""
    return _once(ctx, "last_year", lambda: _find_last_year(ctx))


def _find_last_year(ctx: Context) -> tuple[date | None, date | None, int | None]:
    if not ctx.published:
        return None, None, ctx.default_year
    pub = ctx.published
    recent = [p for p in ctx.periods if p.last and p.first and p.kind in ("financial_year", "year")
              and p.last < pub and (pub - p.last).days <= 366 and (p.last - p.first).days >= 300
              and not _is_baseline(ctx, p)]
    if recent:
        best = max(recent, key=lambda p: p.last or date.min)  # every p.last is set (filtered above)
        return best.first, best.last, best.year
    return date(pub.year - 1, 1, 1), date(pub.year - 1, 12, 31), pub.year - 1


def _dates_of(ctx: Context, p: Period) -> tuple[date | None, date | None, int | None]:
    """A period's dates; "since 2017/18" runs to the document's date."""
    if ctx.search_in(_SINCE_LEFT, max(0, p.start - 10), p.start) or ctx.search_in(_SINCE_START, max(0, p.start - 100), p.start):
        ref = _document_end(ctx)
        return p.first, ref, ref.year if ref else None
    return p.first, p.last, p.year


def quote_span(ctx: Context, sent: Sentence, u: Unit, lseg_start: int, seg_end: int, platform_start: int | None) -> tuple[int, int]:
    text = ctx.text
    start = min(lseg_start, u.start)
    if platform_start is not None and sent.start <= platform_start < start:
        start = platform_start
    end = max(u.end, seg_end)
    if platform_start is not None and end <= platform_start < sent.end:
        # "The platform most used ..., in 112 of the offences, was Snapchat": the quote runs to the platform's name
        word = _WORD.match(text, platform_start)
        end = word.end() if word else end
    # trim to words and drop dangling joiners at either edge
    quote = text[start:end]
    lead = _QUOTE_LEAD.match(quote)
    start += lead.end() if lead else 0
    # the dangling tail holds nothing but _TAIL_CHARS, so no match starts before them: search from there
    piece = text[start:end]
    tail = _QUOTE_TAIL.search(piece, len(piece.rstrip(_TAIL_CHARS)))
    if tail and start + tail.start() >= u.end:
        end = start + tail.start()
    end = max(end, u.end)
    if text[end - 1 : end] == "(":
        end -= 1
    return start, end



def is_online(ctx: Context, sent: Sentence, u: Unit, clause: tuple[int, int]) -> bool:
    """An online cue in the figure's clause ("online", "internet", "apps"), not negated ("not online"),
    with platform names and relative clauses blanked out (they say where, not whether)."""
    offsets = ctx.scanned.starts_in(ONLINE, clause[0], clause[1])
    if offsets is not None and not offsets:
        return False  # no online cue can start in the clause: no need to blank names out of it
    text = ctx.text
    rel = relative_spans(ctx, sent, u.number_start)
    named = rel + [(h.start, h.end) for h in hits_in(ctx.platforms, clause[0], clause[1])]
    chars = list(text[clause[0] : clause[1]])
    for a, b in named:
        lo, hi = max(a, clause[0]) - clause[0], min(b, clause[1]) - clause[0]
        if lo < hi:
            chars[lo:hi] = " " * (hi - lo)
    clause_text = "".join(chars)
    cues = ONLINE.finditer(clause_text) if offsets is None else matches_at(ONLINE, clause_text, [p - clause[0] for p in offsets])
    return any(not NEGATED_LEFT.search(clause_text[max(0, m.start() - 12) : m.start()]) for m in cues)


def offence_variant(ctx: Context, sent: Sentence, clause: tuple[int, int], offence: str | None, online: bool, platforms: list[str]) -> str | None:
    """The offence as the figure's context narrows it (online, against children): the first rule of
    rules/offence_rules.csv for the offence whose condition holds."""
    for r in ctx.tax.rules.offence_rules_when("online_or_platform", "children_online", "children"):
        if r.slug != offence:
            continue
        if r.when == "online_or_platform":
            holds = online or any(p not in ("all_platforms",) for p in platforms)
        else:
            holds = ctx.search_in(CHILDREN, clause[0], clause[1]) is not None and (online or r.when == "children")
        if holds and r.word:
            named = [h for h in hits_in(ctx.offences, sent.start, sent.end) if h.slug == offence]
            holds = bool(named) and r.word in named[0].text.lower()
        if holds:
            return r.becomes
    return offence


def material_offence(ctx: Context, offence: str | None, measure: str | None, source: str | None) -> str | None:
    """Images, videos or webpages 'of child sexual abuse' are child sexual abuse material, not offences;
    reports to a hotline with no offence named are reports of suspected material (rules/offence_rules.csv,
    'images' and 'hotline_reports')."""
    for r in ctx.tax.rules.offence_rules_when("images", "hotline_reports"):
        if r.when == "images" and measure == "images" and offence == r.slug:
            return r.becomes
        if (r.when == "hotline_reports" and offence is None and measure in ("reports", "images")
                and ctx.tax.sources.get(source or "", {}).get("kind") == "hotline"):
            return r.becomes
    return offence


def widen_default_regions(ctx: Context, candidates: list[Candidate]) -> None:
    """Without a scope from the title, the document's scope is the widest region its own figures name:
    figures with the default get it. A hotline's or an international body's total with no region of its
    own covers no country the document happens to name (rules/source_scope.csv)."""
    scopes = ctx.tax.rules.source_scopes
    for c in candidates:
        if c.region_how in ("default", "title") and ctx.tax.regions.get(scopes.get(c.source or "", ""), {}).get("kind") == "global":
            c.region, c.region_how = None, "none"
        elif c.region_how == "default" and scopes.get(c.source or "") and c.origins.get("source") in ("clause", "sentence"):
            # a national body named with the figure: its country, not the document's most named region
            c.region, c.region_how = scopes[c.source or ""], "sentence"
    regions = ctx.tax.regions
    # a figure with the default breaks down a total said before it: the widest scope named so far, never
    # one first named after it ("Nationally, ..." said in passing further down gives no earlier figure its scope)
    named: list[str] = []
    for c in sorted(candidates, key=lambda c: c.unit.start):
        if c.region_how in ("clause", "sentence", "national") and c.region:
            named.append(c.region)
        elif c.region_how == "default" and named:
            c.region = min(named, key=lambda r: (REGION_RANK.get(regions[r].get("kind", ""), 9), -named.count(r)))


def _dominant_year(years: list[int]) -> int | None:
    """The document's current period: the latest year its own dated figures have."""
    return max(years) if years else None


def fill_years(ctx: Context, candidates: list[Candidate]) -> None:
    """A figure with no period of its own dates from the document's date, else its most common period;
    a figure from before its offence existed counts the offence's predecessor."""
    predecessor = {r.slug: r.becomes for r in ctx.tax.rules.offence_rules_when("before_start")}
    # the document's own current figures: dated, and not the earlier side of a comparison ("up from 55% in 2019")
    years = [
        c.period[2] for c in candidates
        if c.period[2] and c.origins.get("year") in ("clause", "sentence", "table", "context")
        and not ctx.search_in(_UP_FROM_LEFT, max(0, c.unit.start - 20), c.unit.start)
        and not ctx.search_in(BASELINE_LEFT, max(0, c.unit.start - 25), c.unit.start)
    ]
    dominant = _dominant_year(years)
    if dominant is None:
        # no figure has a period of its own: the one reference period the document names, if it names one
        # ("Offences recorded by platform, 2021/22" above a table of figures), before its date
        named = {p.year for p in ctx.periods if p.year and p.kind in ("financial_year", "range", "year_to")
                 and not _is_baseline(ctx, p) and ctx.lay.furniture_reason(p.start, p.end) is None}
        if len(named) == 1 and (ctx.published is None or next(iter(named)) <= ctx.published.year):
            dominant = next(iter(named))
    if ctx.default_year:
        fill_year: int | None = ctx.default_year
        # the publication date is the last resort: when one period dominates the document's own figures
        # and ended before publication, a figure stated without a period is of that period
        if dominant is not None and dominant < ctx.default_year:
            fill_year = dominant
        if ctx.title_year:
            fill_year = ctx.title_year
    elif ctx.title_year:
        fill_year = ctx.title_year
    else:
        fill_year = Counter(years).most_common(1)[0][0] if years else None
    for c in candidates:
        if c.period[2] is None and c.origins.get("year") == "published":
            c.origins["year"] = "none"  # "currently" in a document without a date: the year is unknown
        elif c.period[2] is None:
            c.period = (None, None, fill_year)
            c.origins["year"] = (
                "none" if fill_year is None
                else "title" if fill_year == ctx.title_year
                else "published" if ctx.published and fill_year == ctx.published.year
                else "document"
            )
        if ctx.published and c.period[2] and c.period[2] > ctx.published.year:
            # no figure is of a period after the document's date ("this year" read against a later default)
            c.period = (c.period[0], None, ctx.published.year)
        start = ctx.gaz.offence_start.get(c.offence or "")
        # a period that ended before the offence came into force ("2016/17" for an offence of April 2017)
        ended_before = c.period[1] is not None and c.period[1] < start if start else False
        if start and c.period[2] and (c.period[2] < start.year or ended_before) and c.offence in predecessor:
            c.offence = predecessor[c.offence]
