"""Built-in English text for background speech: short words, and short everyday sentences.

Written for this project. Short isolated words are listed first and are most of the list on
purpose: on real speech, words like "left", "yes", "go" and "on" are the main false accepts of
wake-word models, not noise.
"""

from __future__ import annotations

__all__ = ["SENTENCES", "SHORT_WORDS"]

_WORDS = """
yes no yeah yep nope okay ok sure maybe right left up down on off in out stop go start
wait next back play pause open close call send read show help cancel please thanks thank
hello hi hey bye goodbye good bad fine great now later again more less louder quieter mute
skip repeat home find search set turn switch lights light music timer alarm volume weather
time today tomorrow tonight yesterday morning evening night noon
zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty hundred thousand
million first second third fourth half double
I you he she it we they me my your his her our their mine yours
the a an and but or if then so because what when where who why how which this that these
those there here with for from into about over under after before between
house car dog cat bird fish water coffee tea milk bread cheese apple orange banana sugar
phone door window table chair kitchen garden bedroom bathroom garage office street city
mother father mom dad brother sister baby friend teacher doctor neighbour
school money paper book letter picture movie radio station channel news story song
game ball team match goal score point line box bag key keys card shop store market
eat drink sleep walk run talk listen look give take make come know think want need like
love buy pay cook clean drive wash write sing dance laugh cry sit stand wake move
big small hot cold warm cool new old young happy sad fast slow early late long short
red blue green yellow black white brown pink purple grey
Monday Tuesday Wednesday Thursday Friday Saturday Sunday
January February March April May June July August September October November December
spring summer autumn winter weekend holiday birthday
Alex Anna Maria John David Sarah Peter Lisa Tom Emma Mike Kate Sam Ben Lucy Jack Max
Alexander Amanda Jennifer Michael Robert Daniel Olivia Sophie Henry Oscar
um uh hmm well actually really totally exactly probably basically anyway
company complete community common copy copper comfort combat camera carpet
commute compass compact concert contact control corner counter cover
water butter letter better matter ladder paper pepper summer winter dinner
tiger spider river silver number member mister sister order answer after
hello there excuse me sorry pardon what's up come on let's go
elephant telephone computing competition position condition
okay then all right got it no way of course not yet just now
"""

SHORT_WORDS: tuple[str, ...] = tuple(dict.fromkeys(
    w.strip().lower() for w in _WORDS.split() if w.strip() and w.isalpha()))

SENTENCES: tuple[str, ...] = (
    "What time is it?",
    "Turn left at the next corner.",
    "Yes, I think so.",
    "No, not today.",
    "Can you hear me now?",
    "Let's go home.",
    "Put it on the table.",
    "I'll call you back later.",
    "The weather is nice this morning.",
    "Do you want some coffee?",
    "Where did you leave the keys?",
    "It's going to rain tomorrow.",
    "Please close the door.",
    "That was a great movie.",
    "How much does it cost?",
    "I don't know what you mean.",
    "We need more milk and bread.",
    "Open the window, it's hot in here.",
    "The train leaves at seven thirty.",
    "She said she would be late.",
    "Turn the music down a little.",
    "Have you seen my phone?",
    "Go straight and then turn right.",
    "I'm not sure about that.",
    "Dinner is ready.",
    "Wait for me at the station.",
    "He works in a big office downtown.",
    "Can I help you with something?",
    "The meeting starts at ten.",
    "It's on the second floor.",
    "My brother lives in the city.",
    "Thanks a lot, see you soon.",
    "Stop, that's enough.",
    "Just a moment, please.",
    "Pass me the salt.",
    "I left it on the kitchen counter.",
    "Is anybody home?",
    "The kids are playing in the garden.",
    "We should leave now.",
    "Okay, let's do it.",
    "One, two, three, four.",
    "Five, six, seven, eight, nine, ten.",
    "Press the green button.",
    "Don't forget your umbrella.",
    "The shop closes at six.",
    "What did you say?",
    "Right, left, up, down.",
    "I'd like a cup of tea.",
    "Could you repeat that, please?",
    "The news is on channel four.",
    "Call mom after lunch.",
    "It's too loud in here.",
    "Set an alarm for six.",
    "The dog wants to go out.",
    "Play something relaxing.",
    "Read me the headlines.",
    "Where is the nearest pharmacy?",
    "I'm on my way.",
    "Tell me a story.",
    "We won the match yesterday.",
    "This computer is really slow today.",
    "My commute takes an hour.",
    "The copper wire is broken.",
    "Let me compute the total.",
    "Hey, how are you doing?",
    "Hello, is anyone there?",
    "Listen to this song.",
    "The baby is finally asleep.",
    "Check the oven in ten minutes.",
    "Take the second exit.",
    "Who is coming to the party?",
    "Add eggs to the shopping list.",
    "Keep going, you're almost there.",
    "Sorry, I wasn't listening.",
    "That's exactly what I wanted.",
    "Lock the front door before you go.",
    "Happy birthday to you.",
    "Good night, sleep well.",
    "Good morning, everyone.",
    "Nice to meet you.",
)
