"""Scoring by the rules of the annotation guide: dedupe, one-to-one matching, optional facts, tolerance."""

import json
from pathlib import Path

import pytest

from pipeline.evaluate import Gold, Prediction, Report, evaluate_dir, score_document

EVAL = Path(__file__).resolve().parents[1] / "eval"  # the corpora make eval scores, in the repo


def gold(**kw):
    row = {"doc": "d", "count": None, "share": None, "platform": "all_platforms", "region": [None], "offence": [None],
           "year": [None], "source": [None], "optional": False, "quote": "q"}
    row.update(kw)
    return Gold.from_json(row)


def pred(platform="all_platforms", count=None, share=None, **attrs):
    return Prediction("d", platform, count, share, {a: attrs.get(a) for a in ("region", "offence", "year", "source")})


def test_predictions_are_deduplicated_on_platform_count_and_rounded_share():
    s = score_document("d", [pred(count=5), pred(count=5), pred(share=0.1234), pred(share=0.1231)], [gold(count=5)])
    assert len(s.matched) == 1
    assert len(s.false_positives) == 1  # the two shares round to one prediction


def test_share_tolerance_is_0_0051():
    assert score_document("d", [pred(share=0.405)], [gold(share=0.40)]).matched
    assert not score_document("d", [pred(share=0.4052)], [gold(share=0.40)]).matched


def test_share_tolerance_holds_at_exactly_0_0051_despite_float_error():
    # 0.5251 - 0.52 is 0.005100000000000049 in floating point: "at most 0.0051" still matches
    assert score_document("d", [pred(share=0.5251)], [gold(share=0.52)]).matched
    assert not score_document("d", [pred(share=0.5252)], [gold(share=0.52)]).matched


def test_count_must_be_equal_where_both_give_one():
    assert not score_document("d", [pred(count=27, share=0.402)], [gold(count=28, share=0.402)]).matched
    assert score_document("d", [pred(share=0.402)], [gold(count=27, share=0.402)]).matched


def test_platform_must_be_among_the_gold_platforms():
    g = gold(count=5, platform=["online_any", "all_platforms"])
    assert score_document("d", [pred("online_any", count=5)], [g]).matched
    assert not score_document("d", [pred("facebook", count=5)], [g]).matched


def test_matching_is_one_to_one_and_maximal():
    golds = [gold(share=0.50, platform="x"), gold(share=0.502, platform="x")]
    preds = [pred("x", share=0.503), pred("x", share=0.497)]
    assert len(score_document("d", preds, golds).matched) == 2


def test_optional_gold_makes_a_prediction_neutral():
    s = score_document("d", [pred(count=3000), pred(count=7)], [gold(count=3000, optional=True)])
    assert len(s.neutral) == 1 and len(s.false_positives) == 1 and not s.misses


def test_attribute_and_tuple_accuracy_accept_any_listed_answer_and_null():
    g = gold(count=9, region=["england_and_wales", None], year=[2020], source=["nspcc"], offence=["x"])
    s = score_document("d", [pred(count=9, region=None, year=2020, source="nspcc", offence="x")], [g])
    r = Report("t", [s])
    assert (r.precision, r.recall, r.tuple_accuracy) == (1.0, 1.0, 1.0)
    s = score_document("d", [pred(count=9, region="wales", year=2020, source="nspcc", offence="x")], [g])
    r = Report("t", [s])
    assert r.attribute_accuracy("region") == 0.0 and r.attribute_accuracy("year") == 1.0 and r.tuple_accuracy == 0.0


def test_evaluate_dir_scores_a_folder_of_text_and_gold(tmp_path):
    (tmp_path / "a.txt").write_text("Police in Kent recorded 812 grooming offences in 2021/22, the NSPCC said.\n", encoding="utf-8")
    rows = [{"doc": "a.txt", "count": 812, "share": None, "platform": ["all_platforms", "online_any"], "region": ["kent"],
             "offence": ["sexual_communication_with_a_child"], "year": [2022], "source": ["nspcc"], "optional": False,
             "quote": "812 grooming offences"}]
    (tmp_path / "gold.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    report = evaluate_dir(tmp_path)
    assert (report.precision, report.recall, report.tuple_accuracy) == (1.0, 1.0, 1.0)


def test_evaluate_dir_gives_documents_their_index_date(tmp_path):
    # a figure with no period of its own dates from the publication date, which only the index holds here
    (tmp_path / "a.txt").write_text("Kent Police recorded 812 grooming offences, the NSPCC said.\n", encoding="utf-8")
    rows = [{"doc": "a.txt", "count": 812, "share": None, "platform": ["all_platforms"], "region": ["kent"],
             "offence": ["sexual_communication_with_a_child"], "year": [2021], "source": ["nspcc", "police_force"],
             "optional": False, "quote": "812 grooming offences"}]
    (tmp_path / "gold.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert evaluate_dir(tmp_path).attribute_accuracy("year") == 0.0  # no date known: no year
    index = {"file": "a.txt", "title": "Grooming in Kent", "published": "2021-05-04", "url": "u", "outlet": "o"}
    (tmp_path / "index.jsonl").write_text(json.dumps(index) + "\n", encoding="utf-8")
    assert evaluate_dir(tmp_path).attribute_accuracy("year") == 1.0


def test_evaluate_dir_with_a_broken_index_is_a_clear_error(tmp_path):
    (tmp_path / "gold.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "index.jsonl").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match="index.jsonl:1"):
        evaluate_dir(tmp_path)


def test_evaluate_dir_without_gold_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="gold.jsonl"):
        evaluate_dir(tmp_path)


# Regression floors: a little under what the extractor reaches, so a change that loses
# ground fails here. The goal is higher (see the closing notes of the extraction issue).
# All of dev2 has now been read to find error classes (issue 14; its set-aside third too, so dev2
# is no unseen measure any more): dev F1 1.000, tuple 0.992 and dev2 F1 1.000, tuple 0.988 when
# these floors were set.
FLOORS = {"seeds": (0.97, 0.97), "dev": (0.98, 0.98), "dev2": (0.98, 0.97)}


@pytest.mark.parametrize("corpus", sorted(FLOORS))
def test_extraction_scores_stay_above_their_floors(corpus):
    report = evaluate_dir(EVAL / corpus)
    f1_floor, tuple_floor = FLOORS[corpus]
    assert report.f1 >= f1_floor, report.summary()
    assert report.tuple_accuracy >= tuple_floor, report.summary()


def test_trap_documents_yield_no_facts():
    """On-topic pages whose numbers are not facts (the dev documents without gold rows) give nothing."""
    folder = EVAL / "dev"
    with_gold = {json.loads(line)["doc"] for line in (folder / "gold.jsonl").read_text().splitlines() if line.strip()}
    report = evaluate_dir(folder)
    traps = [d for d in report.docs if d.doc not in with_gold]
    assert traps, "expected trap documents in the dev corpus"
    assert all(not d.false_positives and not d.neutral for d in traps)
