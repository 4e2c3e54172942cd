"""The number grammar: how figures are written, parsed to values, with their qualifiers."""

import pytest

from pipeline.extractor.numbers import find_numbers, parse_count, parse_share, parse_spelled


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("9,477", 9477),
        ("300million", 300_000_000),
        ("1.2m", 1_200_000),
        ("29.3 million", 29_300_000),
        ("1bn", 1_000_000_000),
        ("4.5k", 4500),
        ("nine", 9),
        ("twelve thousand", 12_000),
        ("twenty-five", 25),
        ("two hundred and six", 206),
        ("20,307,216", 20_307_216),
    ],
)
def test_count_reads_every_spelling(written, value):
    assert parse_count(written) == value


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("52%", 0.52),
        ("52 per cent", 0.52),
        ("52 pr cent", 0.52),
        ("52pc", 0.52),
        ("52 percent", 0.52),
        ("0.4 per cent", 0.004),
        ("fifty per cent", 0.5),
        ("half", 0.5),
        ("a quarter", 0.25),
        ("a third", 0.3333),
        ("one-third", 0.3333),
        ("two-thirds", 0.6667),
        ("three quarters", 0.75),
        ("one in five", 0.2),
        ("1 in 7", 0.1429),
        ("four in five", 0.8),
    ],
)
def test_share_reads_every_spelling_as_a_fraction(written, value):
    assert parse_share(written) == pytest.approx(value, abs=1e-4)


def test_share_reads_one_in_five_as_a_fifth():
    assert parse_share("one in five") == 0.2


def test_a_count_is_not_a_share_and_a_share_not_a_count():
    assert parse_share("9,477") is None
    assert parse_count("52%") is None


def test_spelled_parser_rejects_non_numbers():
    assert parse_spelled("several") is None
    assert parse_spelled("one hundred") == 100


@pytest.mark.parametrize(
    ("text", "surface", "qualifier"),
    [
        ("Officers logged more than 4,310 reports.", "4,310", "more_than"),
        ("Officers logged almost 800 reports.", "800", "less_than"),
        ("Officers logged at least 12 reports.", "12", "at_least"),
        ("Officers logged up to 70 reports.", "70", "up_to"),
        ("Officers logged around 55% of reports.", "55%", "about"),
        ("Officers logged some 640 reports.", "640", "about"),
        ("Officers logged just over a third of reports.", "a third", "more_than"),
        ("Officers logged 640 reports.", "640", "exact"),
    ],
)
def test_qualifier_is_read_from_the_words_before_the_number(text, surface, qualifier):
    numbers = find_numbers(text)
    assert [n.surface for n in numbers] == [surface]
    assert numbers[0].qualifier == qualifier


def test_number_before_a_date_is_not_read_as_a_ratio():
    numbers = find_numbers("up from 41 in 20/21")
    assert [n.surface for n in numbers][:1] == ["41"]
    assert numbers[0].is_share is False


def test_spans_index_the_text():
    text = "In all, 1.5 million reports and 12% of cases."
    for n in find_numbers(text):
        assert text[n.start : n.end] == n.surface


QUALIFIER_PHRASES = {
    "more_than": ["more than", "just over", "well over", "over", "in excess of", "upwards of", "above", "exceeding", "greater than"],
    "at_least": ["at least", "no fewer than", "no less than", "a minimum of"],
    "up_to": ["up to", "as many as"],
    "less_than": ["less than", "fewer than", "just under", "under", "below", "almost", "nearly", "not quite"],
    "about": ["around", "about", "approximately", "approx.", "approx", "roughly", "some", "circa", "an estimated",
              "estimated", "close to", "c.", "~"],
}


@pytest.mark.parametrize(
    ("phrase", "qualifier"), [(phrase, q) for q, phrases in QUALIFIER_PHRASES.items() for phrase in phrases]
)
@pytest.mark.parametrize("layout", ["{p} 640", "{P} 640", "{p}\u00a0- 640", "{p}  640"])
def test_every_qualifier_in_every_spacing_and_case(phrase, qualifier, layout):
    # what comes before the number is checked first for a qualifier's last word, then by the pattern
    text = "Police logged " + layout.format(p=phrase, P=phrase.upper()) + " reports."
    numbers = find_numbers(text)
    assert [n.surface for n in numbers] == ["640"]
    assert numbers[0].qualifier == qualifier
    assert text[numbers[0].span_start : numbers[0].end].lower().startswith(phrase.split()[0])


def test_a_dash_is_no_qualifier_joiner():
    assert find_numbers("Police logged more than \u2013 640 reports.")[0].qualifier == "exact"


@pytest.mark.parametrize(("text", "surface", "value"), [("Police logged 3,000-plus reports.", "3,000-plus", 3000), ("Police logged 10,000+ reports.", "10,000+", 10000)])
def test_a_plus_after_the_number_bounds_it_from_below(text, surface, value):
    (number,) = find_numbers(text)
    assert (number.surface, number.value, number.qualifier) == (surface, value, "at_least")


def test_a_plus_between_numbers_is_no_bound():
    assert [n.qualifier for n in find_numbers("The score was 3+4, or 7 + 2.")] == ["exact"] * 4
