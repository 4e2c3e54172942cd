"""Reference periods and publication dates written in text."""

from datetime import date

import pytest

from pipeline.extractor.periods import find_periods, published_date


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("in 2023/24", date(2023, 4, 1), date(2024, 3, 31)),
        ("during 2019-20", date(2019, 4, 1), date(2020, 3, 31)),
        ("in 21/22", date(2021, 4, 1), date(2022, 3, 31)),
        ("from April 2016 to March 2017", date(2016, 4, 1), date(2017, 3, 31)),
        ("between 1 July 2019 and 30 June 2020", date(2019, 7, 1), date(2020, 6, 30)),
        ("between June 3, 2021 and May 2, 2022", date(2021, 6, 3), date(2022, 5, 2)),
        ("between February and October 2018", date(2018, 2, 1), date(2018, 10, 31)),
        ("between 2012 and 2016", date(2012, 1, 1), date(2016, 12, 31)),
        ("the year to June 2019", date(2018, 7, 1), date(2019, 6, 30)),
        ("in 2014", date(2014, 1, 1), date(2014, 12, 31)),
    ],
)
def test_periods_are_read_with_their_dates(text, first, last):
    periods = find_periods(text)
    assert len(periods) == 1
    assert (periods[0].first, periods[0].last) == (first, last)


def test_financial_year_ends_in_its_second_year():
    assert find_periods("in 2023/24")[0].year == 2024


def test_year_to_a_month_uses_the_reference_date_when_no_year_is_given():
    (period,) = find_periods("recorded in the year to March", reference=date(2022, 9, 1))
    assert period.last == date(2022, 3, 31)


def test_this_year_in_a_range_is_the_first_such_date_after_the_start():
    (period,) = find_periods("between August 1 2019 and April 30 this year")
    assert period.last == date(2020, 4, 30)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (" date 2019-02-11 Police said ...", date(2019, 2, 11)),
        ("Headline\n\nWednesday, March 4, 2020\n\nBody text here.", date(2020, 3, 4)),
        ("Headline\n9:12AM GMT 03 Feb 2015\nBody", date(2015, 2, 3)),
        ("Headline\nPublished date12 May 2021\nBody", date(2021, 5, 12)),
        ("Headline\nThe report covers January 2019 to June 2019 and more.", None),
    ],
)
def test_published_date_is_a_date_line_near_the_top(head, expected):
    assert published_date(head) == expected
