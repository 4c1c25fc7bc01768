"""The tables of the English rules (:mod:`.rules`): currencies, scales, units, abbreviations,
compass points, acronyms said as words, fixed readings, file extensions and top-level domains.
Data only; the scanner that reads text with them is :mod:`.rules`, and the live clause
splitter reads :data:`DOTTED_WORDS`."""

from __future__ import annotations

CURRENCY_SYMBOLS: dict[str, str] = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}

CURRENCIES: dict[str, tuple[tuple[str, str], tuple[str, str] | None]] = {
    "USD": (("dollar", "dollars"), ("cent", "cents")),
    "EUR": (("euro", "euros"), ("cent", "cents")),
    "GBP": (("pound", "pounds"), ("penny", "pence")),
    "JPY": (("yen", "yen"), None),
    "INR": (("rupee", "rupees"), ("paisa", "paise")),
    "CAD": (("Canadian dollar", "Canadian dollars"), ("cent", "cents")),
    "AUD": (("Australian dollar", "Australian dollars"), ("cent", "cents")),
    "CHF": (("Swiss franc", "Swiss francs"), ("centime", "centimes")),
    "CNY": (("yuan", "yuan"), None),
    "BTC": (("bitcoin", "bitcoin"), None),
}

SCALES = {
    "k": "thousand",
    "K": "thousand",
    "m": "million",
    "M": "million",
    "mn": "million",
    "b": "billion",
    "B": "billion",
    "bn": "billion",
    "thousand": "thousand",
    "million": "million",
    "billion": "billion",
    "trillion": "trillion",
}

UNITS: dict[str, tuple[str, str]] = {
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°": ("degree", "degrees"),
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "m/s": ("meter per second", "meters per second"),
    "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "m": ("meter", "meters"),
    "mi": ("mile", "miles"),
    "ft": ("foot", "feet"),
    "in": ("inch", "inches"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "g": ("gram", "grams"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "h": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "hrs": ("hour", "hours"),
    "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"),
    "s": ("second", "seconds"),
    "sec": ("second", "seconds"),
    "secs": ("second", "seconds"),
    "ms": ("millisecond", "milliseconds"),
    "µs": ("microsecond", "microseconds"),
    "ns": ("nanosecond", "nanoseconds"),
    "TB": ("terabyte", "terabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "MB": ("megabyte", "megabytes"),
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "GHz": ("gigahertz", "gigahertz"),
    "MHz": ("megahertz", "megahertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "Hz": ("hertz", "hertz"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "kW": ("kilowatt", "kilowatts"),
    "W": ("watt", "watts"),
    "V": ("volt", "volts"),
    "mAh": ("milliamp hour", "milliamp hours"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "L": ("liter", "liters"),
    "fps": ("frame per second", "frames per second"),
    "px": ("pixel", "pixels"),
    "x": ("times", "times"),
    "k": ("thousand", "thousand"),
}
"""Unit symbols after a number: (singular, plural)."""

ATTACHED_ONLY = frozenset({"m", "in", "g", "W", "V", "L", "x", "k", "°"})
"""Units read only when written against the number ("5m", not "5 m"): as separate words
they are usually something else ("5 in a row")."""

ABBREVIATIONS: dict[str, str] = {
    "Dr.": "Doctor",
    "Mr.": "Mister",
    "Mrs.": "Missus",
    "Ms.": "Miz",
    "Prof.": "Professor",
    "Jr.": "Junior",
    "Sr.": "Senior",
    "vs.": "versus",
    "etc.": "et cetera",
    "approx.": "approximately",
    "Inc.": "Incorporated",
    "Ltd.": "Limited",
    "Corp.": "Corporation",
    "Ave.": "Avenue",
    "Blvd.": "Boulevard",
    "Rd.": "Road",
    "Mt.": "Mount",
    "Dept.": "Department",
    "est.": "estimated",
    "avg.": "average",
    "Fig.": "Figure",
    "Vol.": "Volume",
    "Co.": "Company",
    "min.": "minutes",
    "max.": "maximum",
    "e.g.": "for example",
    "i.e.": "that is",
    "a.k.a.": "also known as",
    "U.S.": "U S",
    "U.K.": "U K",
    "Jan.": "January",
    "Feb.": "February",
    "Mar.": "March",
    "Apr.": "April",
    "Jun.": "June",
    "Jul.": "July",
    "Aug.": "August",
    "Sep.": "September",
    "Sept.": "September",
    "Oct.": "October",
    "Nov.": "November",
    "Dec.": "December",
    "Mon.": "Monday",
    "Tue.": "Tuesday",
    "Tues.": "Tuesday",
    "Wed.": "Wednesday",
    "Thu.": "Thursday",
    "Thurs.": "Thursday",
    "Fri.": "Friday",
    "Sat.": "Saturday",
    "Sun.": "Sunday",
}
"""Abbreviations with their dot. ``St.`` and ``No.`` depend on what follows (see
``EnglishRules._abbreviation`` in :mod:`.rules`)."""

DOTTED_WORDS = frozenset({a[:-1] for a in ABBREVIATIONS} | {"St", "No"})
"""The same abbreviations for the live clause splitter (:mod:`macbot.core.clauses`), without
their last dot and as case-sensitive as the rules: their dot never ends a clause there (one
table, issue 21 item 2)."""

SENTENCE_FINAL = frozenset(
    {"etc.", "Inc.", "Ltd.", "Corp.", "Jr.", "Sr.", "U.S.", "U.K.", "Ave.", "Blvd.", "Rd."}
)
"""Abbreviations that may end a sentence; their dot then stays as the sentence's end."""

COMPASS = {
    "N": "north",
    "S": "south",
    "E": "east",
    "W": "west",
    "NE": "north east",
    "NW": "north west",
    "SE": "south east",
    "SW": "south west",
    "NNE": "north north east",
    "NNW": "north north west",
    "SSE": "south south east",
    "SSW": "south south west",
    "ENE": "east north east",
    "ESE": "east south east",
    "WNW": "west north west",
    "WSW": "west south west",
}

WORD_ACRONYMS = frozenset(
    {
        "NASA",
        "NATO",
        "SCUBA",
        "LASER",
        "RADAR",
        "UNESCO",
        "UNICEF",
        "FIFA",
        "GIF",
        "JPEG",
        "PIN",
        "ZIP",
        "YAML",
        "JSON",
        "COVID",
        "OPEC",
        "IKEA",
        "CAPTCHA",
        "SIM",
        "SWAT",
        "AIDS",
        "WASM",
        "OK",
        "FAQ",
        "RAM",
        "ROM",
        "CAD",
        "LAN",
        "WAN",
        "SaaS",
        "ASCII",
        "TOML",
        "NAS",
    }
)
"""All-capital words said as words, not letter by letter."""

SPOKEN_WORDS: dict[str, str] = {
    "OK": "okay",
    "AM": "eigh M",
    "PM": "P M",
    "TL;DR": "T L D R",
    "C++": "C plus plus",
    "C#": "C sharp",
    "F#": "F sharp",
    ".NET": "dot net",
    "24/7": "twenty four seven",
    "50/50": "fifty fifty",
    "w/": "with",
    "w/o": "without",
    "N/A": "not applicable",
    "n/a": "not applicable",
    "&": "and",
}
"""Written forms with one fixed reading."""

FILE_EXTENSIONS = (
    "py|js|ts|tsx|jsx|json|yaml|yml|toml|md|txt|sh|cfg|ini|log|csv|html|css|rs|go|java|cpp|"
    "swift|rb|php|sql|xml|pdf|png|jpg|jpeg|gif|svg|zip|gz|tar|env|lock|onnx|wav|mp3|docx|xlsx"
)
TLDS = "com|org|net|io|dev|ai|app|edu|gov|co|uk|us|de|fr|info|me|tv|ly|sh"
