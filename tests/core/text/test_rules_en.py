"""Table-driven: each semiotic class of the English rules, written form → the words said.

Each case runs through the whole front end (markdown off, so that ``#`` and ``*`` reach the
rules), so what is checked is exactly what the voice gets."""

from __future__ import annotations

import pytest

from macbot.core.text import FrontEnd, TextOptions

US = FrontEnd("en-us")
GB = FrontEnd("en-gb")
PLAIN = TextOptions(markdown=False)


def said(text: str, front: FrontEnd = US, **options) -> str:
    return front.process(text, TextOptions(markdown=False, **options)).text


def table(cases: str) -> list[tuple[str, str]]:
    """``written => spoken`` lines."""
    return [
        tuple(part.strip() for part in line.split("=>"))  # type: ignore[misc]
        for line in cases.strip().splitlines()
    ]


NUMBERS = table(
    """
    I have 3 cats => I have three cats
    That's 1,250 steps => That's one thousand two hundred and fifty steps
    Pi is 3.14 => Pi is three point one four
    It is .5 of it => It is point five of it
    It fell to -5 today => It fell to minus five today
    The 21st century => The twenty first century
    She came 2nd => She came second
    About 1/3 of it => About one third of it
    Add 3/4 cup => Add three quarters cup
    Use 2 1/2 cups => Use two and a half cups
    Rated 8/10 => Rated eight out of ten
    Wait 25-30 minutes => Wait twenty five to thirty minutes
    Up 3.5% now => Up three point five percent now
    A 10-20% drop => A ten to twenty percent drop
    Built in 1999 => Built in nineteen ninety nine
    In 2024 we => In twenty twenty four we
    Since 2008 => Since two thousand and eight
    In the 1990s => In the nineteen nineties
    In the 80s => In the eighties
    Room 0427 => Room zero four two seven
    Order #4821 => Order number four eight two one
    It is #1 => It is number one
    It is 2x faster => It is two times faster
    """
)
MONEY = table(
    """
    It costs $4.50 => It costs four dollars and fifty cents
    Only $1 => Only one dollar
    Just $0.99 => Just ninety nine cents
    About $1.5 million => About one point five million dollars
    Raised $3M => Raised three million dollars
    Pay €20 now => Pay twenty euros now
    It was £350 => It was three hundred and fifty pounds
    Send 20 USD => Send twenty dollars
    Send EUR 15.25 => Send fifteen euros and twenty five cents
    Between $10-$20 => Between ten to twenty dollars
    """
)
TIMES = table(
    """
    At 3:30 pm => At three thirty P M
    At 9am sharp => At nine eigh M sharp
    At 14:30 => At fourteen thirty
    At 15:00 => At fifteen hundred
    At 9:00 => At nine o'clock
    At 6:05 => At six oh five
    At 10:30:15 => At ten thirty and fifteen seconds
    Opens 7 p.m. daily => Opens seven P M. daily
    """
)
DATES = table(
    """
    Due 03/15/2024 => Due March fifteenth twenty twenty four
    Due 2024-03-15 => Due March fifteenth twenty twenty four
    On March 5th, 2025 => On March fifth twenty twenty five
    On 5 March 2025 => On the fifth of March twenty twenty five
    On Jan. 12 => On January twelfth
    Due 13/13/2024 => Due 13/13/2024
    """
)
UNITS = table(
    """
    Bake at 350°F => Bake at three hundred and fifty degrees Fahrenheit
    It is 100°C => It is one hundred degrees Celsius
    Drive 5 km => Drive five kilometers
    Drive 1 km => Drive one kilometer
    Going 60 mph => Going sixty miles per hour
    Wait 2 h => Wait two hours
    Wait 12 min => Wait twelve minutes
    Took 4 s => Took four seconds
    Took 250 ms => Took two hundred and fifty milliseconds
    Weighs 2.5 kg => Weighs two point five kilograms
    About 5.5 lbs => About five point five pounds
    Free 10 GB => Free ten gigabytes
    At 2.4GHz => At two point four gigahertz
    Five in a row, 5 in a row => Five in a row, five in a row
    """
)
PHONES = table(
    """
    Call (555) 123-4567 now => Call five five five, one two three, four five six seven now
    Call 555-123-4567 now => Call five five five, one two three, four five six seven now
    Dial +44 20 7946 => Dial plus four four, two zero, seven nine four six
    Dial 555-0132 => Dial five five five, zero one three two
    """
)
ADDRESSES = table(
    """
    See https://www.example.com/docs now => See example dot com slash docs now
    See http://example.org => See example dot org
    Visit example.com today => Visit example dot com today
    Mail jane.doe@example.com => Mail jane dot doe at example dot com
    Open ~/Documents/notes.txt now => Open home slash Documents slash notes dot txt now
    Run /usr/local/bin/tool => Run slash usr slash local slash bin slash tool
    Edit setup.py first => Edit setup dot py first
    Get v2.4.1 now => Get version two point four point one now
    Python 3.12.1 is out => Python three point twelve point one is out
    """
)
WORDS = table(
    """
    Dr. Smith is here => Doctor Smith is here
    Ask Mr. Lee => Ask Mister Lee
    Eggs, milk, etc. => Eggs, milk, et cetera.
    Bring ID, e.g. a passport => Bring I D, for example a passport
    Red vs. blue => Red versus blue
    Your ETA is 5 => Your E T eigh is five
    The APIs work => The eigh P I's work
    Winds from the NW => Winds from the north west
    It is OK => It is okay
    Ask NASA => Ask NASA
    THIS IS VERY LOUD => THIS IS VERY LOUD
    No. 5 is mine => number five is mine
    On Main St. now => On Main Street now
    In St. Louis => In Saint Louis
    Bring friend(s) => Bring friends
    """
)
SYMBOLS = table(
    """
    Tom & Jerry => Tom and Jerry
    Use C++ or C# => Use C plus plus or C sharp
    x = 4 + 3 => x equals four plus three
    About ~5 left => About about five left
    Open 24/7 => Open twenty four seven
    Yes/no => Yes or no
    $5/month => five dollars per month
    A → B => A to B
    *important* _note_ => important note
    a | b => a, b
    N/A here => not applicable here
    """
)


@pytest.mark.parametrize(
    ("written", "spoken"),
    NUMBERS + MONEY + TIMES + DATES + UNITS + PHONES + ADDRESSES + WORDS + SYMBOLS,
)
def test_english_classes(written, spoken):
    assert said(written) == spoken


@pytest.mark.parametrize(
    ("written", "order", "spoken"),
    [
        ("Due 03/04/2025", "auto", "Due March fourth twenty twenty five"),
        ("Due 03/04/2025", "dmy", "Due the third of April twenty twenty five"),
        ("Due 2025/03/04", "dmy", "Due March fourth twenty twenty five"),
    ],
)
def test_date_order_is_an_option(written, order, spoken):
    assert said(written, date_order=order) == spoken


def test_date_order_follows_the_voice_locale():
    assert said("Due 03/04/2025", GB) == "Due the third of April twenty twenty five"


@pytest.mark.parametrize(
    ("option", "written"),
    [
        ("numbers", "I have 3 cats"),
        ("currency", "It costs $4.50"),
        ("times", "At 14:30"),
        ("dates", "Due 2024-03-15"),
        ("phone_numbers", "Call 555-123-4567 now"),
        ("urls", "See https://example.com/docs"),
        ("emails", "Mail jane@example.com"),
        ("paths", "Get v2.4.1 now"),
        ("abbreviations", "Your ETA is near"),
    ],
)
def test_each_class_can_be_switched_off(option, written):
    assert said(written, **{option: False}) == written
    assert said(written) != written


def test_units_off_still_reads_the_number():
    assert said("Drive 5 km", units=False) == "Drive five km"


def test_other_languages_keep_their_words():
    """No English rules for a German voice: numbers are left to the voice, not read in
    English (markup and emoji still go)."""
    german = FrontEnd("de")
    assert german.rules is None
    assert german.process("**Es kostet 5 €** 😀").text == "Es kostet 5 €"
