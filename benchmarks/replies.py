"""LLM-style replies and what a person reading them aloud would say: the ``frontend``
benchmark's corpus (and the end-to-end tests' examples).

Each item is ``(reply, spoken)``. The spoken forms were written by hand, as a person says
them (US English), not copied from the front end's output.
"""

from __future__ import annotations

REPLIES: list[tuple[str, str]] = [
    (
        "**Sure!** I can help with that.",
        "Sure! I can help with that.",
    ),
    (
        "## Summary\nThe meeting moved to *Thursday*.",
        "Summary. The meeting moved to Thursday.",
    ),
    (
        "Here's the plan:\n\n1. Preheat the oven to 350°F.\n2. Bake for 25-30 minutes.",
        "Here's the plan: Preheat the oven to three hundred and fifty degrees Fahrenheit. "
        "Bake for twenty five to thirty minutes.",
    ),
    (
        "Your ETA is about 15 minutes. 🚗",
        "Your E T A is about fifteen minutes.",
    ),
    (
        "Great job! 😀🎉 You finished all 3 tasks.",
        "Great job! You finished all three tasks.",
    ),
    (
        "You can read more at https://www.example.com/docs.",
        "You can read more at example dot com slash docs.",
    ),
    (
        "About 1/3 of the budget went to rent.",
        "About one third of the budget went to rent.",
    ),
    (
        "The total comes to $42.50, including tax.",
        "The total comes to forty two dollars and fifty cents, including tax.",
    ),
    (
        "Your flight leaves at 6:45 am from gate B12.",
        "Your flight leaves at six forty five A M from gate B twelve.",
    ),
    (
        "- Milk\n- Eggs\n- Bread",
        "Milk. Eggs. Bread.",
    ),
    (
        "Send it to jane.doe@example.com by Friday.",
        "Send it to jane dot doe at example dot com by Friday.",
    ),
    (
        "Call the office at (555) 123-4567 if you're running late.",
        "Call the office at five five five, one two three, four five six seven if you're "
        "running late.",
    ),
    (
        "The event is on March 5th, 2025 at 7 pm.",
        "The event is on March fifth twenty twenty five at seven P M.",
    ),
    (
        "It's 72°F and sunny, with winds from the NW at 10 mph.",
        "It's seventy two degrees Fahrenheit and sunny, with winds from the north west at ten "
        "miles per hour.",
    ),
    (
        "> Note: the store closes at 9:00 tonight.",
        "Note: the store closes at nine o'clock tonight.",
    ),
    (
        "Dr. Patel can see you on Jan. 12 at 10:30 am.",
        "Doctor Patel can see you on January twelfth at ten thirty A M.",
    ),
    (
        "Battery is at 20%. Plug in soon! 🔋",
        "Battery is at twenty percent. Plug in soon!",
    ),
    (
        "| Day | High |\n|---|---|\n| Monday | 68°F |\n| Tuesday | 71°F |",
        "Day, High. Monday, sixty eight degrees Fahrenheit. Tuesday, seventy one degrees "
        "Fahrenheit.",
    ),
    (
        "Run `pip install requests` to get started.",
        "Run pip install requests to get started.",
    ),
    (
        "Here's an example:\n\n```python\nprint('hello')\n```\n\nThat prints a greeting.",
        "Here's an example: There is a code block here. That prints a greeting.",
    ),
    (
        "Check out [the documentation](https://docs.example.org) for details.",
        "Check out the documentation for details.",
    ),
    (
        "The recipe needs 2 1/2 cups of flour and 3/4 cup of sugar.",
        "The recipe needs two and a half cups of flour and three quarters cup of sugar.",
    ),
    (
        "Prices rose 3.5% last year, the fastest since 2008.",
        "Prices rose three point five percent last year, the fastest since two thousand and eight.",
    ),
    (
        "Your package (#4821) ships tomorrow.",
        "Your package, number four eight two one, ships tomorrow.",
    ),
    (
        "Tom & Jerry starts at 8:30 pm on channel 5.",
        "Tom and Jerry starts at eight thirty P M on channel five.",
    ),
    (
        "The file is saved in ~/Documents/notes.txt.",
        "The file is saved in home slash Documents slash notes dot txt.",
    ),
    (
        "Update to v2.4.1 to fix the bug.",
        "Update to version two point four point one to fix the bug.",
    ),
    (
        "The drive is 5 km, roughly 12 min by car.",
        "The drive is five kilometers, roughly twelve minutes by car.",
    ),
    (
        "I found 3 restaurants nearby:\n"
        "* **Luigi's** (4.5 ⭐)\n* **Sakura** (4.2 ⭐)\n* **El Sol**",
        "I found three restaurants nearby: Luigi's, four point five. Sakura, four point two. "
        "El Sol.",
    ),
    (
        "<b>Reminder:</b> take your medicine at 8 am.",
        "Reminder: take your medicine at eight A M.",
    ),
    (
        "Thanks! :)",
        "Thanks!",
    ),
    (
        "The 21st century began in 2001, not 2000.",
        "The twenty first century began in two thousand and one, not two thousand.",
    ),
    (
        "That's 1,250 steps so far today.",
        "That's one thousand two hundred and fifty steps so far today.",
    ),
    (
        "Mix equal parts, i.e. 50/50.",
        "Mix equal parts, that is fifty fifty.",
    ),
    (
        "Your balance is €1,200 and £350.",
        "Your balance is one thousand two hundred euros and three hundred and fifty pounds.",
    ),
    (
        "### Step 2\nConnect the HDMI cable to the TV.",
        "Step two. Connect the H D M I cable to the T V.",
    ),
    (
        "The store is open 24/7.",
        "The store is open twenty four seven.",
    ),
    (
        "Sunrise is at 06:12 and sunset at 19:48.",
        "Sunrise is at six twelve and sunset at nineteen forty eight.",
    ),
    (
        "It weighs 2.5 kg, about 5.5 lbs.",
        "It weighs two point five kilograms, about five point five pounds.",
    ),
    (
        "Your appointment is on 04/15/2025.",
        "Your appointment is on April fifteenth twenty twenty five.",
    ),
    (
        "The API returns JSON, and the CPU load stays under 10%.",
        "The A P I returns JSON, and the C P U load stays under ten percent.",
    ),
    (
        "Water boils at 100°C at sea level.",
        "Water boils at one hundred degrees Celsius at sea level.",
    ),
    (
        "I've set a timer for 1 h 30 min. ⏰",
        "I've set a timer for one hour thirty minutes.",
    ),
    (
        "**Tip:** drink ~2 liters of water a day.",
        "Tip: drink about two liters of water a day.",
    ),
    (
        "The answer is x = 4 + 3.",
        "The answer is x equals four plus three.",
    ),
    (
        "Ask for Mr. Lee at the front desk, Suite 200.",
        "Ask for Mister Lee at the front desk, Suite two hundred.",
    ),
    (
        "She was born in 1987 and moved here in the 90s.",
        "She was born in nineteen eighty seven and moved here in the nineties.",
    ),
    (
        "Download speed: 250 MB in 4 s.",
        "Download speed: two hundred and fifty megabytes in four seconds.",
    ),
    (
        "Please bring your ID, e.g. a passport or driver's license.",
        "Please bring your I D, for example a passport or driver's license.",
    ),
    (
        "The score was 3-1 after 90 minutes. ⚽",
        "The score was three to one after ninety minutes.",
    ),
    (
        "Your new PIN has been sent to +1 415 555 0132.",
        "Your new PIN has been sent to plus one, four one five, five five five, zero one three "
        "two.",
    ),
    (
        "# Weather\nToday: **sunny**, high of 75°F, low of 58°F. ☀️",
        "Weather. Today: sunny, high of seventy five degrees Fahrenheit, low of fifty eight "
        "degrees Fahrenheit.",
    ),
    (
        "I've added eggs, milk, etc. to your list.",
        "I've added eggs, milk, et cetera to your list.",
    ),
    (
        "Meet me at 123 Main St. at noon.",
        "Meet me at one twenty three Main Street at noon.",
    ),
    (
        "Version 3.12 is about 25% faster than 3.10.",
        "Version three point one two is about twenty five percent faster than three point "
        "one zero.",
    ),
    (
        "![A red apple](apple.png) An apple has about 95 calories.",
        "A red apple. An apple has about ninety five calories.",
    ),
]
"""At least fifty replies with their spoken forms."""
