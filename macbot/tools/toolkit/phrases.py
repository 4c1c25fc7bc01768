"""Built-in texts: calibration phrases for static quantization, sentences for verification.

The lists do not overlap, so a variant is never verified on the phrases it was calibrated on,
and the benchmarks' held-out sentences were seen by neither.
"""

from __future__ import annotations

from pathlib import Path

CALIBRATION_PHRASES = [
    "Hello! How can I help you today?",
    "I found three restaurants nearby that are open right now.",
    "Sorry, I didn't catch that. Could you say it again, please?",
    "Your alarm is set for seven thirty tomorrow morning.",
    "It looks like rain this afternoon, so take an umbrella with you.",
    "I've added milk, eggs and bread to your shopping list.",
    "The meeting with Sarah has been moved to Thursday at two o'clock.",
    "Okay, calling Mom on her mobile phone.",
    "Here is what I found on the web about electric cars.",
    "The battery is at twenty percent; you may want to plug in your laptop.",
    "Done! I sent the message to the whole team.",
    "Do you want me to read your new emails out loud?",
]
"""Assistant-style phrases; the first ``--calibration-phrases`` are used (default 4)."""

VERIFY_SENTENCES = [
    "Good morning, the weather today is sunny with a light breeze from the west.",
    "Your next meeting starts in fifteen minutes in the small conference room.",
    "I have set a timer for ten minutes.",
    "The package you ordered last Tuesday will arrive tomorrow before noon.",
    "Turning off the lights in the living room and the kitchen now.",
    "There are three new messages from your team about the quarterly report.",
    "Playing your favourite playlist at a comfortable volume.",
    "The traffic on your usual route to work is heavier than normal, so leave early.",
    "Your flight to Boston is on time and boards at gate twelve.",
    "I could not find a contact named Peter in your address book.",
    "The front door is locked and the alarm system is armed.",
    "Tomorrow will be cloudy with a high of eighteen degrees.",
    "You have two reminders for this evening.",
    "The thermostat is now set to twenty one degrees.",
    "Your coffee order will be ready for pickup in five minutes.",
    "I am sorry, but I do not have an answer to that question.",
    "The nearest pharmacy closes at nine tonight.",
    "Your daughter's school sent a note about the field trip on Friday.",
    "Shall I start the robot vacuum in the bedroom?",
    "The stock market closed slightly higher today.",
    "Remember to water the plants before you leave.",
    "I have paused the music while you are on the phone.",
    "Your package was delivered to the front porch an hour ago.",
    "The train to the city center leaves in seven minutes.",
    "Here is a recipe for a quick vegetable soup.",
    "Your heart rate during the run averaged one hundred and forty beats per minute.",
    "I have turned on do not disturb until eight in the morning.",
    "The garage door has been open for thirty minutes.",
    "Would you like me to book a table for two at seven?",
    "Your library books are due back next Monday.",
    "The sunset today is at a quarter past eight.",
    "I have shared the photos from the weekend with your family.",
]
"""32 assistant-style sentences (the first 8 are the benchmark's)."""


HELDOUT_SENTENCES = [
    "The dishwasher finished its cycle about ten minutes ago.",
    "Your brother's birthday is on Saturday, so you may want to buy a present.",
    "I found a bus that leaves from the corner of Main Street at six fifteen.",
    "The air quality outside is good, and the pollen count is low.",
    "Your dentist appointment has been confirmed for Wednesday afternoon.",
    "The living room window is still open, and it may rain tonight.",
    "I have ordered more coffee beans; they should arrive on Monday.",
    "There is a podcast episode about the history of jazz waiting for you.",
    "Your electricity bill this month is lower than last month.",
    "The pizza place around the corner is open until midnight.",
    "I set the bedroom lights to dim slowly over the next half hour.",
    "Your sister sent a photo of the new puppy.",
    "The museum downtown has free entry on the first Sunday of the month.",
    "I could not reach the printer; please check that it is switched on.",
    "Your running shoes have covered almost five hundred kilometres.",
    "The baby monitor reports that everything is quiet upstairs.",
    "Tomorrow morning there will be fog on the motorway near the bridge.",
    "I added a reminder to renew your passport before the end of June.",
    "The kettle is on, and the water will boil in two minutes.",
    "Your meeting with the accountant was moved to next Thursday.",
    "The garden sprinklers will run at five in the morning.",
    "I translated the message; it says the delivery will be late.",
    "The nearest charging station for your car is three kilometres away.",
    "Your favourite band announced a concert in the city this autumn.",
    "The washing machine needs a new filter, according to the manual.",
    "I have muted notifications for the rest of the evening.",
    "Traffic on the ring road is moving slowly because of an accident.",
    "The oven timer will go off in twelve minutes.",
    "Your grandmother called and asked whether you are coming for lunch.",
    "The hotel has a pool, a gym and free breakfast.",
]
"""30 sentences used nowhere else (not calibration, not the gate): the benchmarks' unseen
sentences for WER."""


def read_phrases(path: Path) -> list[str]:
    """Non-empty lines of a text file (``--calibration-text``); ``ValueError`` if there are none."""
    lines = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
    phrases = [line for line in lines if line and not line.startswith("#")]
    if not phrases:
        raise ValueError(f"{path} has no phrases (one per line)")
    return phrases
