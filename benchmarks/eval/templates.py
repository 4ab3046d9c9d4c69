"""The vocabulary of the evaluation conversations: fact kinds, distractors and chit-chat.

A *fact kind* says how one fact about the user is stated in a conversation and how a
question later asks for it in other words. Plain kinds state the fact in one user turn;
*previous-turn* kinds split it over a lead-in, an assistant question and a short user
reply ("It's Marguerite."), so the reply (the evidence) only makes sense with the turn
before it. Every question template avoids the answer slot, and its wording differs from
the statement's (``dog`` for ``beagle``, ``mother`` for ``mom``, "how much" for a price).

*Distractors* share the facts' vocabulary (other people's sisters, other flights, other
dates and prices) without stating any asked fact; *chit-chat* fills the sessions.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Slots = dict[str, str]

QUESTION_TYPES = (
    "name",  # a person's or a pet's name
    "number",  # flight / room / code numbers, prices, counts
    "temporal",  # "when is / when did ..." (a date)
    "place",  # a city
    "preference",  # likes and dislikes
    "rare_word",  # an unusual word (a craft, a medicine, a restaurant)
    "single_fact",  # any other single attribute (a job, a car, a breed)
    "previous_turn",  # the answer turn only makes sense with the question before it
    "named_entity",  # the question names a person (a rare name); the answer is their attribute
)


# -- value pools ----------------------------------------------------------------------------

PERSON_NAMES = [
    "Marguerite",
    "Thaddeus",
    "Ottoline",
    "Leopold",
    "Philippa",
    "Cassius",
    "Imogen",
    "Ignatius",
    "Rosalind",
    "Barnaby",
    "Clementine",
    "Evander",
    "Henrietta",
    "Lucian",
    "Wilhelmina",
    "Percival",
    "Araminta",
    "Casimir",
    "Seraphina",
    "Ambrose",
    "Josephine",
    "Florian",
    "Beatrix",
    "Octavian",
    "Genevieve",
    "Horatio",
    "Delphine",
    "Isadora",
    "Caspian",
    "Perpetua",
    "Leander",
    "Eulalie",
    "Cornelius",
    "Theodora",
    "Benedikt",
    "Ludmila",
    "Anselm",
    "Petronella",
    "Osric",
    "Valentin",
]
OTHER_NAMES = [
    "Dana",
    "Kevin",
    "Priya",
    "Tom",
    "Lucy",
    "Marco",
    "Hannah",
    "Raj",
    "Sofia",
    "Ben",
    "Chloe",
    "Omar",
    "Nina",
    "Jack",
    "Elena",
    "Sam",
]
PET_NAMES = [
    "Biscuit",
    "Pickles",
    "Waffles",
    "Noodle",
    "Pepper",
    "Mochi",
    "Ziggy",
    "Tofu",
    "Churro",
    "Nugget",
    "Pretzel",
    "Sprocket",
    "Juniper",
    "Marmalade",
    "Pudding",
    "Bramble",
    "Dumpling",
    "Pistachio",
    "Gizmo",
    "Crumpet",
]
# (what the user says, what a question says, possessive pronoun)
RELATIONS = (
    ("mom", "mother", "her"),
    ("dad", "father", "his"),
    ("older sister", "sister", "her"),
    ("little brother", "brother", "his"),
    ("boss", "manager", "their"),
    ("best friend", "closest friend", "their"),
    ("grandma", "grandmother", "her"),
    ("roommate", "flatmate", "their"),
    ("nephew", "sister's son", "his"),
    ("aunt", "father's sister", "her"),
)
# (breed as said, the general word a question uses, pronoun)
PETS = (
    ("beagle", "dog", "him"),
    ("golden retriever", "dog", "her"),
    ("dachshund", "dog", "him"),
    ("tabby kitten", "cat", "her"),
    ("Siamese kitten", "cat", "him"),
    ("holland lop bunny", "rabbit", "her"),
    ("budgie", "bird", "him"),
    ("cockatiel", "bird", "her"),
)
CITIES = [
    "Lisbon",
    "Oslo",
    "Nairobi",
    "Osaka",
    "Toronto",
    "Lyon",
    "Porto",
    "Kyoto",
    "Denver",
    "Dublin",
    "Seville",
    "Krakow",
    "Hanoi",
    "Lima",
    "Quito",
    "Bergen",
    "Zurich",
    "Vienna",
    "Prague",
    "Tallinn",
    "Accra",
    "Dakar",
    "Cusco",
    "Hobart",
    "Bologna",
    "Ghent",
    "Malmo",
    "Turin",
    "Valencia",
    "Tbilisi",
    "Yerevan",
    "Almaty",
    "Jaipur",
    "Busan",
    "Sapporo",
    "Cebu",
    "Auckland",
    "Reykjavik",
    "Marrakesh",
    "Ljubljana",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
AIRLINES = ("TP", "LH", "KL", "BA", "AF", "SK", "IB", "OS", "AY", "EI")
# (as said, as a question says it)
PURCHASES = (
    ("road bike", "bicycle"),
    ("espresso machine", "coffee maker"),
    ("sofa", "couch"),
    ("laptop", "computer"),
    ("winter coat", "jacket for the cold"),
    ("standing desk", "desk"),
    ("camera lens", "photography gear"),
    ("mattress", "bed"),
)
# (as said, as a question says it)
PROJECTS = (
    ("grant proposal", "grant application"),
    ("tax return", "taxes"),
    ("thesis chapter", "dissertation"),
    ("quarterly report", "report for the quarter"),
    ("visa paperwork", "visa application"),
    ("conference talk slides", "presentation"),
)
JOBS = [
    "pharmacist",
    "veterinarian",
    "cartographer",
    "sommelier",
    "actuary",
    "paramedic",
    "archivist",
    "luthier",
    "hydrologist",
    "stenographer",
]
FOODS = ("cilantro", "olives", "anchovies", "mushrooms", "eggplant", "blue cheese", "licorice", "okra")
GENRES = ("bossa nova", "bluegrass", "synthwave", "baroque opera", "Afrobeat", "shoegaze", "klezmer", "zydeco")
DRINKS = ("flat white", "oat milk chai", "negroni", "matcha latte", "hibiscus tea", "cortado", "ginger beer")
CRAFTS = ("kintsugi", "marquetry", "sashiko", "bookbinding", "glassblowing", "letterpress", "calligraphy")
INSTRUMENTS = ("theorbo", "hurdy-gurdy", "bandoneon", "oud", "harmonium", "dulcimer", "sitar")
MEDICINES = ("cetirizine", "loratadine", "fexofenadine", "montelukast", "azelastine")
RESTAURANTS = (
    "Trattoria Zucca",
    "Casa Lupita",
    "The Gilded Fig",
    "Bistro Marigold",
    "Osteria Ballo",
    "Kamome Ramen",
    "Taverna Ilios",
)
CARS = ("Skoda Octavia", "Volvo V60", "Mazda CX-5", "Renault Zoe", "Subaru Outback", "Fiat Panda")
COLOURS = ("red", "silver", "dark green", "white", "navy blue")
SPORTS_EVENTS = ("half marathon", "10k race", "triathlon", "cycling sportive")


def _date(rng: random.Random) -> str:
    return f"{rng.choice(MONTHS)} {rng.randint(1, 28)}"


def _relation(rng: random.Random) -> Slots:
    said, asked, possessive = rng.choice(RELATIONS)
    return {"rel": said, "rel_q": asked, "pos": possessive}


def _pet(rng: random.Random) -> Slots:
    breed, species, pronoun = rng.choice(PETS)
    return {"breed": breed, "species": species, "pron": pronoun, "pet": rng.choice(PET_NAMES)}


def _purchase(rng: random.Random) -> Slots:
    said, asked = rng.choice(PURCHASES)
    return {"item": said, "item_q": asked, "price": str(rng.randint(120, 2400))}


def _project(rng: random.Random) -> Slots:
    said, asked = rng.choice(PROJECTS)
    return {"project": said, "project_q": asked, "date": _date(rng)}


# -- fact kinds -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FactKind:
    """How one fact is stated and asked.

    Attributes:
        name: Stable identifier (recorded with each question).
        qtype: One of :data:`QUESTION_TYPES`.
        group: A conversation holds at most one kind per group, so no question is ambiguous.
        make: Draws the slot values.
        answer: The slot whose value answers the question (it appears in the evidence turn).
        statements: The evidence turn (a user turn); for previous-turn kinds, the short reply.
        questions: Paraphrasing questions (never containing the answer slot).
        lead: Previous-turn kinds only: the user turn that opens the topic.
        ask: Previous-turn kinds only: the assistant's question the reply answers.
        acks: Assistant replies after the evidence turn (none of them holds a value).
        anchor: The slot a question names (a person), said in no other turn of the conversation.
    """

    name: str
    qtype: str
    group: str
    make: Callable[[random.Random], Slots]
    answer: str
    statements: tuple[str, ...]
    questions: tuple[str, ...]
    lead: tuple[str, ...] = ()
    ask: tuple[str, ...] = ()
    acks: tuple[str, ...] = field(default=())
    anchor: str | None = None

    @property
    def previous_turn(self) -> bool:
        return bool(self.ask)


def _slots(*makers: Callable[[random.Random], Slots], **pools: tuple[str, ...] | list[str]) -> Callable[..., Slots]:
    def make(rng: random.Random) -> Slots:
        out: Slots = {}
        for maker in makers:
            out.update(maker(rng))
        for slot, pool in pools.items():
            out[slot] = rng.choice(pool)
        return out

    return make


def _with(**extra: Callable[[random.Random], str]) -> Callable[[random.Random], Slots]:
    def make(rng: random.Random) -> Slots:
        return {slot: draw(rng) for slot, draw in extra.items()}

    return make


FACT_KINDS: tuple[FactKind, ...] = (
    FactKind(
        "relation_name",
        "name",
        "relation",
        _slots(_relation, name=PERSON_NAMES),
        "name",
        (
            "My {rel} {name} is coming to stay with us for a few days next week.",
            "{name}, my {rel}, just got a promotion and we're all so proud.",
            "I had a long phone call with my {rel} {name} last night, we talked for hours.",
        ),
        ("What is my {rel_q} called?", "Remind me of my {rel_q}'s first name?", "Who is my {rel_q}, by name?"),
        acks=("That sounds lovely, enjoy the time together.", "How nice, family time is precious."),
    ),
    FactKind(
        "relation_name_reply",
        "previous_turn",
        "relation",
        _slots(_relation, name=PERSON_NAMES),
        "name",
        ("It's {name}.", "{name}, though everyone uses a nickname.", "Oh, {name}. Funny name, I know."),
        ("What's the name of my {rel_q}?", "How is my {rel_q} called?"),
        lead=("My {rel} is visiting this weekend.", "I'm meeting my {rel} for lunch tomorrow."),
        ask=("How lovely! What's {pos} name, by the way?", "Nice! Remind me, what's {pos} name?"),
        acks=("Got it, I'll remember that.", "Lovely name."),
    ),
    FactKind(
        "pet_name",
        "name",
        "pet",
        _slots(_pet),
        "pet",
        (
            "We finally adopted a {breed} last weekend and named {pron} {pet}.",
            "Our new {breed} {pet} chewed through my phone charger this morning.",
        ),
        ("What did we name our {species}?", "What is my {species} called?"),
        acks=("Aww, congratulations on the new family member!", "Pets keep life interesting."),
    ),
    FactKind(
        "pet_name_reply",
        "previous_turn",
        "pet",
        _slots(_pet),
        "pet",
        ("{pet}. The kids picked it.", "We went with {pet}, it just suited {pron}."),
        ("What is the name of my {species}?", "What did we end up calling the {species}?"),
        lead=("We brought home a little {breed} yesterday!", "Big news: we adopted a {breed}."),
        ask=("Oh, wonderful! What did you name {pron}?", "Congratulations! What's the little one called?"),
        acks=("Adorable.", "Perfect name."),
    ),
    FactKind(
        "pet_breed",
        "single_fact",
        "pet",
        _slots(_pet),
        "breed",
        ("{pet} is a {breed} with way too much energy for our small flat.",),
        ("What kind of animal is {pet}?", "What breed is {pet}?"),
        acks=("Sounds like a handful, but a sweet one.",),
    ),
    FactKind(
        "birthday",
        "temporal",
        "birthday",
        _slots(_relation, _with(date=_date, age=lambda r: str(r.randint(30, 85)))),
        "date",
        (
            "My {rel} turns {age} on {date}, I need to plan something special.",
            "Don't let me forget: my {rel}'s birthday is {date}.",
        ),
        ("When is my {rel_q}'s birthday?", "What day does my {rel_q} celebrate getting older?"),
        acks=("A party could be fun!", "Birthdays are worth planning for."),
    ),
    FactKind(
        "birthday_age",
        "number",
        "birthday",
        _slots(_relation, _with(date=_date, age=lambda r: str(r.randint(30, 85)))),
        "age",
        ("My {rel} turns {age} this year and wants a quiet dinner, no fuss.",),
        ("How old will my {rel_q} be this year?", "What age is my {rel_q} turning?"),
        acks=("A quiet dinner sounds perfect.",),
    ),
    FactKind(
        "trip_date",
        "temporal",
        "trip",
        _slots(_with(date=_date), city=CITIES),
        "date",
        (
            "We finally booked the trip to {city}, leaving on {date}!",
            "The {city} holiday is set, we fly out {date}.",
        ),
        ("When do I leave for {city}?", "On what day does my {city} vacation start?"),
        acks=("How exciting, you'll love it.", "Have a wonderful trip!"),
    ),
    FactKind(
        "flight_number",
        "number",
        "trip",
        _slots(_with(flight=lambda r: f"{r.choice(AIRLINES)}{r.randint(100, 9999)}"), city=CITIES),
        "flight",
        (
            "Booked it: flight {flight} to {city}, the early morning one.",
            "My flight to {city} is {flight}, departing at dawn unfortunately.",
        ),
        ("Which flight number am I on for {city}?", "What's the code of my plane to {city}?"),
        acks=("Early flights are rough, but you get the whole day.",),
    ),
    FactKind(
        "flight_number_reply",
        "previous_turn",
        "trip",
        _slots(_with(flight=lambda r: f"{r.choice(AIRLINES)}{r.randint(100, 9999)}"), city=CITIES),
        "flight",
        ("{flight}, the one at 6 in the morning.", "The cheaper one, {flight}."),
        ("What's my flight number to {city}?", "Which plane did I book for {city}?"),
        lead=("I just booked my flight to {city}.", "Okay, {city} flights are sorted."),
        ask=("Great! Which flight did you get?", "Nice, which one did you go for?"),
        acks=("Noted.", "Good choice."),
    ),
    FactKind(
        "hotel_room",
        "number",
        "hotel",
        _slots(_with(room=lambda r: str(r.randint(101, 1299))), city=CITIES),
        "room",
        ("The hotel in {city} put us in room {room}, right next to the elevator.",),
        ("What room number do we have at the hotel?", "Which room are we staying in?"),
        acks=("Hopefully the elevator is quiet at night.",),
    ),
    FactKind(
        "hotel_room_reply",
        "previous_turn",
        "hotel",
        _slots(_with(room=lambda r: str(r.randint(101, 1299))), city=CITIES),
        "room",
        ("{room}, on the top floor with a view.", "Number {room}. Tiny but clean."),
        ("What's our room number in {city}?", "Which hotel room did we get in {city}?"),
        lead=("We just checked in at our hotel in {city}.",),
        ask=("Nice, what room did they give you?",),
        acks=("Enjoy the stay!",),
    ),
    FactKind(
        "purchase_price",
        "number",
        "purchase",
        _slots(_purchase),
        "price",
        (
            "I finally bought the {item}, it was {price} euros after the discount.",
            "Splurged on a new {item} today, {price} euros, no regrets.",
        ),
        ("How much did my new {item_q} cost?", "What did I pay for the {item_q}?"),
        acks=("Treat yourself sometimes!",),
    ),
    FactKind(
        "purchase_price_reply",
        "previous_turn",
        "purchase",
        _slots(_purchase),
        "price",
        ("{price} euros, it was on sale.", "About {price} euros. Worth it though."),
        ("How much was the {item_q} I bought?", "What was the price of my {item_q}?"),
        lead=("I bought that {item} I was telling you about.",),
        ask=("Oh nice, how much was it?", "Was it expensive in the end?"),
        acks=("Not bad at all.",),
    ),
    FactKind(
        "class_size",
        "number",
        "count",
        _with(count=lambda r: str(r.randint(14, 39))),
        "count",
        ("There are {count} kids in my class this year, which is a lot for one teacher.",),
        ("How many pupils do I teach?", "How many students are in my group at school?"),
        acks=("That's a big group to manage.",),
    ),
    FactKind(
        "wedding_guests",
        "number",
        "count",
        _with(count=lambda r: str(r.randint(40, 240))),
        "count",
        ("We got {count} RSVPs back for the wedding so far, way more than expected.",),
        ("How many people confirmed they're coming to the wedding?", "What's the guest count for the ceremony?"),
        acks=("That will be quite a party!",),
    ),
    FactKind(
        "deadline",
        "temporal",
        "deadline",
        _slots(_project),
        "date",
        ("The {project} is due on {date} and I've barely started.", "I have to hand in the {project} by {date}."),
        ("When is the {project_q} due?", "What's the deadline for my {project_q}?"),
        acks=("You can do it, one step at a time.", "Let's make a plan for that."),
    ),
    FactKind(
        "race_date",
        "temporal",
        "race",
        _slots(_with(date=_date), city=CITIES, event=SPORTS_EVENTS),
        "date",
        ("I ran the {city} {event} on {date}, my legs are still sore.",),
        ("When did I do the race in {city}?", "On which date did I compete in {city}?"),
        acks=("Congratulations, that's a big achievement!",),
    ),
    FactKind(
        "dentist_reply",
        "previous_turn",
        "appointment",
        _with(date=_date, weekday=lambda r: r.choice(WEEKDAYS)),
        "date",
        ("{date}, a {weekday}, at three in the afternoon.", "Not until {date}, sadly."),
        ("When is my dental checkup?", "What date am I seeing the dentist?"),
        lead=("I finally called the dentist about my tooth.",),
        ask=("Good! When is the appointment?",),
        acks=("I'll remind you closer to the day.",),
    ),
    FactKind(
        "relation_city",
        "place",
        "relation_city",
        _slots(_relation, city=CITIES),
        "city",
        ("My {rel} just moved to {city} for a new job.", "My {rel} has been living in {city} since the spring."),
        ("Where does my {rel_q} live now?", "Which city is my {rel_q} based in?"),
        acks=("A big change! Hope they settle in well.",),
    ),
    FactKind(
        "hometown",
        "place",
        "hometown",
        _slots(city=CITIES),
        "city",
        ("I grew up in {city}, my whole family is still there.", "Back in {city}, where I was born, it rains a lot."),
        ("Where am I originally from?", "What city is my hometown?"),
        acks=("It must be nice to have roots somewhere.",),
    ),
    FactKind(
        "job",
        "single_fact",
        "job",
        _slots(job=JOBS),
        "job",
        ("I've been working as a {job} for about eight years now.", "Being a {job} pays the bills, mostly."),
        ("What do I do for a living?", "What is my profession?"),
        acks=("That sounds like interesting work.",),
    ),
    FactKind(
        "food_dislike",
        "preference",
        "food",
        _slots(food=FOODS),
        "food",
        ("Honestly, I can't stand {food}, it ruins any dish for me.", "Please never suggest recipes with {food}."),
        ("Which ingredient do I hate?", "What food should recipes for me leave out?"),
        acks=("Noted, I'll keep that in mind.",),
    ),
    FactKind(
        "music",
        "preference",
        "music",
        _slots(genre=GENRES),
        "genre",
        ("I've been listening to so much {genre} lately, it's my favourite.", "Nothing beats {genre} on a Sunday."),
        ("What kind of music do I enjoy most?", "Which musical genre is my favourite?"),
        acks=("Great taste!",),
    ),
    FactKind(
        "drink",
        "preference",
        "drink",
        _slots(drink=DRINKS),
        "drink",
        ("At the café I always order a {drink}, every single time.",),
        ("What's my usual order at the coffee shop?", "What do I normally drink when we go out for coffee?"),
        acks=("A creature of habit, I like it.",),
    ),
    FactKind(
        "craft",
        "rare_word",
        "hobby",
        _slots(craft=CRAFTS),
        "craft",
        ("I signed up for a {craft} workshop on Thursday evenings.", "My {craft} class was so relaxing today."),
        ("What handicraft have I taken up?", "Which creative course am I attending during the week?"),
        acks=("What a lovely hobby.",),
    ),
    FactKind(
        "instrument",
        "rare_word",
        "instrument",
        _slots(instrument=INSTRUMENTS),
        "instrument",
        ("I've started learning the {instrument}, my neighbours are very patient.",),
        ("Which musical instrument am I learning to play?", "What instrument have I been practising?"),
        acks=("Keep practising, it will click.",),
    ),
    FactKind(
        "medicine",
        "rare_word",
        "medicine",
        _slots(medicine=MEDICINES),
        "medicine",
        ("The doctor put me on {medicine} for the hay fever, one tablet a day.",),
        ("What medication was I prescribed for my allergies?", "Which pills am I taking for the pollen?"),
        acks=("I hope it helps soon.",),
    ),
    FactKind(
        "restaurant_reply",
        "previous_turn",
        "restaurant",
        _slots(restaurant=RESTAURANTS),
        "restaurant",
        ("{restaurant}, on the corner near the park.", "It's called {restaurant}. Book ahead!"),
        ("What was the name of that restaurant I loved?", "Which place did I recommend for dinner?"),
        lead=("We found an amazing new place for dinner last night.",),
        ask=("Ooh, what's it called?",),
        acks=("I'll remember it for next time.",),
    ),
    FactKind(
        "car",
        "single_fact",
        "car",
        _slots(car=CARS, colour=COLOURS),
        "car",
        ("We traded in the old car for a {colour} {car} on Saturday.",),
        ("What vehicle do we drive now?", "Which model is our new automobile?"),
        acks=("Enjoy the new ride!",),
    ),
    FactKind(
        "locker_code",
        "number",
        "code",
        _with(code=lambda r: str(r.randint(1000, 9999))),
        "code",
        ("The gym locker code is {code}, don't let me forget it.",),
        ("What's the combination of my locker at the gym?", "Which digits open my gym locker?"),
        acks=("Saved.",),
    ),
)

# Facts about named people in the user's life: the question names the person (a rare word a
# keyword index matches and an embedding blurs); near misses give other people the same attributes.
NAMED_KINDS: tuple[FactKind, ...] = (
    FactKind(
        "friend_job",
        "named_entity",
        "friend_job",
        _slots(name=PERSON_NAMES, job=JOBS),
        "job",
        ("My friend {name} finally qualified as a {job} after years of training.",),
        ("What does {name} do for work?", "What is {name}'s profession?"),
        acks=("Good for them, that takes dedication.",),
        anchor="name",
    ),
    FactKind(
        "friend_city",
        "named_entity",
        "friend_city",
        _slots(name=PERSON_NAMES, city=CITIES),
        "city",
        ("{name}, my old classmate, lives in {city} these days.",),
        ("Where is {name} living now?", "Which city did {name} settle in?"),
        acks=("You could visit sometime!",),
        anchor="name",
    ),
    FactKind(
        "friend_birthday",
        "named_entity",
        "friend_birthday",
        _slots(_with(date=_date), name=PERSON_NAMES),
        "date",
        ("{name}'s birthday is on {date}, I should send a card this year.",),
        ("When is {name}'s birthday?", "On what day was {name} born?"),
        acks=("A handwritten card is always appreciated.",),
        anchor="name",
    ),
    FactKind(
        "friend_pet",
        "named_entity",
        "friend_pet",
        _slots(_pet, name=PERSON_NAMES),
        "pet",
        ("{name} has a {breed} called {pet} that follows her everywhere.",),
        ("What is the name of {name}'s {species}?", "What did {name} call her {species}?"),
        acks=("Sounds like a loyal companion.",),
        anchor="name",
    ),
)

ALL_KINDS = FACT_KINDS + NAMED_KINDS

# -- distractors: the facts' vocabulary, about other people and things, answering nothing --------------

DISTRACTORS = (
    "My coworker {other}'s {rel} is visiting from {city} too, small world.",
    "My neighbour flew to {city} last {month}, she said the food was amazing.",
    "{other} from work has a {breed} that barks at every delivery.",
    "My friend's birthday party is on {date}, I still need a gift.",
    "I paid way too much for parking downtown, like {small} euros.",
    "{other} told me the flight from {city} to {city2} was delayed for hours.",
    "The last hotel I stayed at had paper-thin walls.",
    "My {rel} keeps asking when I'll visit, but work is crazy.",
    "{other} is a {job}, she says the hours are brutal.",
    "I used to listen to {genre} in school, not so much anymore.",
    "There were {small} people at the meeting today, way too many.",
    "{other}'s deadline got moved to {date}, lucky them.",
    "My old {item} finally broke after years of use.",
    "{other} just adopted a cat, she sends me photos every day.",
    "I might try a pottery class someday, {other} loves hers.",
    "Apparently {city} is the place to be this year, everyone's going.",
    "The school down the road is hiring more teachers.",
    "{other} asked me for restaurant tips in {city}.",
    "My {rel} never remembers anyone's birthday, including mine.",
    "Prices for flights to {city2} have gone up again.",
    "{other} runs every morning, I don't know how she does it.",
    "The coffee shop near the office changed its menu.",
    "I should really book a checkup with my doctor soon.",
    "{other} got a new car, she won't stop talking about it.",
)


def distractor_slots(rng: random.Random, avoid: frozenset[str] = frozenset()) -> Slots:
    """Values for :data:`DISTRACTORS` and :data:`NEAR_MISSES`, none of them in ``avoid``.

    ``avoid`` holds the conversation's answers and the people its questions name, so that a
    distractor never states an answer (a label stays complete) or names a questioned person.
    """

    def pick(pool: Sequence[str]) -> str:
        return rng.choice([value for value in pool if value not in avoid])

    def number(low: int, high: int) -> str:
        while (value := str(rng.randint(low, high))) in avoid:
            pass
        return value

    city = pick(CITIES)
    city2 = pick([c for c in CITIES if c != city])
    breed, species, _ = rng.choice([p for p in PETS if p[0] not in avoid])
    item, _ = rng.choice(PURCHASES)
    project, _ = rng.choice(PROJECTS)
    while (date := _date(rng)) in avoid:
        pass
    while (flight := f"{rng.choice(AIRLINES)}{rng.randint(100, 9999)}") in avoid:
        pass
    return {
        "other": rng.choice(OTHER_NAMES),
        "rel": rng.choice(RELATIONS)[0],
        "name": pick(PERSON_NAMES),
        "city": city,
        "city2": city2,
        "month": rng.choice(MONTHS),
        "date": date,
        "age": number(30, 85),
        "breed": breed,
        "species": species,
        "pet": pick(PET_NAMES),
        "small": number(11, 60),
        "count": number(14, 240),
        "job": pick(JOBS),
        "genre": pick(GENRES),
        "item": item,
        "price": number(120, 2400),
        "project": project,
        "flight": flight,
        "room": number(101, 1299),
        "event": rng.choice(SPORTS_EVENTS),
        "food": pick(FOODS),
        "drink": pick(DRINKS),
        "craft": pick(CRAFTS),
        "instrument": pick(INSTRUMENTS),
        "medicine": pick(MEDICINES),
        "restaurant": pick(RESTAURANTS),
        "car": pick(CARS),
        "colour": rng.choice(COLOURS),
        "code": number(1000, 9999),
    }


# Near misses: the vocabulary of one fact group (the words its questions use), about someone or
# something else. Each fact brings one to three of its group's into the same conversation.
NEAR_MISSES: dict[str, tuple[str, ...]] = {
    "relation": (
        "My coworker's {rel} {name} is a {job} in {city}.",
        "{other} introduced me to her {rel} {name} at the party.",
    ),
    "pet": (
        "{other}'s {breed} {pet} escaped again and ran into our garden.",
        "At the park we met a {species} called {pet}, so cute.",
        "My {rel} wants a {species} but the landlord says no.",
    ),
    "birthday": (
        "{other}'s {rel} turns {age} on {date}, they're throwing a big party.",
        "My {rel} always forgets birthdays, it's a running joke.",
    ),
    "trip": (
        "{other} flies to {city} on {date}, lucky her.",
        "{other} took flight {flight} to {city} and it was delayed for hours.",
        "We went to {city} years ago, I'd love to go back.",
    ),
    "hotel": (
        "{other}'s hotel room in {city} was number {room}, with a broken shower.",
        "Hotels in {city} are so expensive this season.",
    ),
    "purchase": (
        "{other} bought a {item} for {price} euros and already regrets it.",
        "I'm still thinking about getting a better {item} someday.",
    ),
    "count": (
        "My {rel} teaches {count} kids at a school in {city}.",
        "{other}'s wedding had {count} guests, it was chaos.",
    ),
    "deadline": (
        "{other}'s {project} is due on {date}, she's stressed.",
        "Last year my {project} was a nightmare.",
    ),
    "race": (
        "{other} ran the {city} {event} on {date} and beat her record.",
        "I'm thinking about signing up for a {event} next year.",
    ),
    "appointment": (
        "{other} saw the dentist on {date} and needed a filling.",
        "My {rel} hates going to the dentist.",
    ),
    "relation_city": ("{other}'s {rel} moved to {city} last year.", "My {rel} visited {city} for a conference."),
    "hometown": ("{other} grew up in {city}, she says it's lovely.", "I've never been to {city}, is it nice?"),
    "job": ("{other} works as a {job} at the hospital.", "My {rel} always wanted to be a {job}."),
    "food": ("{other} can't stand {food}, she picks it out of everything.", "My {rel} puts {food} on everything."),
    "music": (
        "{other} is really into {genre}, she keeps sending me playlists.",
        "The bar downtown plays {genre} on Fridays.",
    ),
    "drink": ("{other} always orders a {drink}, every time.", "The café started selling {drink} last week."),
    "hobby": (
        "{other} is taking a {craft} course at the community centre.",
        "I saw a video about {craft}, looked hard.",
    ),
    "instrument": (
        "{other}'s son plays the {instrument} in a band.",
        "There was a {instrument} player at the street market.",
    ),
    "medicine": ("The doctor gave {other} {medicine} for her hay fever.", "My {rel} takes {medicine} every spring."),
    "restaurant": (
        "{other} had a terrible dinner at {restaurant} last week.",
        "{restaurant} was closed when we walked by.",
    ),
    "car": ("{other} just bought a {colour} {car}.", "The rental place gave us a {car}, it was fine."),
    "code": ("The office door code is {code}, it changes every month.", "{other}'s bike lock code is {code}."),
    "friend_job": ("{other} works as a {job} downtown.", "My {rel} knows a {job} who could help."),
    "friend_city": ("{other} lives in {city} now.", "A friend of mine just moved to {city}."),
    "friend_birthday": ("{other}'s birthday is on {date}.", "I always forget my friends' birthdays."),
    "friend_pet": ("{other} has a {species} called {pet}.", "Everyone at work seems to have a {species} lately."),
}

# The assistant's reply to a fact, on its topic: may use the fact's other slots, never its answer.
FOLLOW_UPS: dict[str, tuple[str, ...]] = {
    "relation": (
        "Family visits are the best. Do you have plans with your {rel}?",
        "It's great that you and your {rel} stay close.",
    ),
    "pet": (
        "A {species} is a big commitment, but so rewarding. Get the vaccinations done early.",
        "Enjoy the new {species}! Training early makes everything easier.",
    ),
    "birthday": (
        "You could plan a surprise dinner for your {rel}, or a small trip.",
        "A photo book is a lovely gift for a {rel}.",
    ),
    "trip": (
        "{city} is wonderful! Pack comfortable shoes, the old town is all hills.",
        "Great choice, {city} has amazing food markets. Want a packing list?",
    ),
    "hotel": ("I hope the hotel in {city} is comfortable. Ask for a quieter room if it's noisy.",),
    "purchase": ("A good {item} is worth it if you use it every day.",),
    "count": ("That's a lot of people to keep track of!",),
    "deadline": ("Let's split the {project} into small tasks for each day.",),
    "race": ("Congratulations on finishing the {event} in {city}! Rest and stretch.",),
    "appointment": ("Good that you booked it, dental problems get worse if you wait.",),
    "relation_city": ("Moving is a big step. You can visit your {rel} soon.",),
    "hometown": ("Childhood places stay with us.",),
    "job": ("Your work sounds demanding but meaningful.",),
    "food": ("Noted, I'll leave it out of any recipe suggestions.",),
    "music": ("Music is a great way to unwind. Want some similar artists?",),
    "drink": ("A favourite order makes the café feel like home.",),
    "hobby": ("Hands-on crafts are great for the mind.",),
    "instrument": ("Learning an instrument as an adult takes patience, but it's so rewarding.",),
    "medicine": ("Take it with water, and tell the doctor if you feel drowsy.",),
    "restaurant": ("Great, I'll remember it for your next dinner out.",),
    "car": ("Congratulations on the new car! Remember to update the insurance.",),
    "code": ("Got it, I'll keep that safe.",),
    "friend_job": ("That's a demanding field.",),
    "friend_city": ("It's nice to have friends in other cities.",),
    "friend_birthday": ("I can remind you a week before.",),
    "friend_pet": ("Pets become family so quickly.",),
}


# -- chit-chat --------------------------------------------------------------------------------

# (user turn, assistant replies that fit it)
CHITCHAT = (
    ("Ugh, long day at work today.", ("That sounds exhausting, I hope you can rest tonight.", "Sorry to hear it.")),
    ("I had the weirdest dream last night.", ("Dreams can be so strange! What happened?",)),
    ("The weather has been so grey this week.", ("Grey weeks are draining; maybe a bright lamp helps.",)),
    ("I'm thinking of cooking something new tonight.", ("How about a curry or a simple risotto?",)),
    ("Just got back from a walk, feeling better.", ("Good to hear! Walks do wonders.",)),
    ("Do you have any tips for sleeping better?", ("Try a consistent bedtime and dim the screens an hour before.",)),
    ("I need to clean the apartment this weekend.", ("Put on some music and do one room at a time.",)),
    ("Watched a documentary about octopuses, fascinating.", ("They really are remarkable animals.",)),
    ("I'm trying to drink more water these days.", ("A bottle on the desk makes it easier.",)),
    ("Any podcast recommendations for the commute?", ("A history or a science podcast could be a good start.",)),
    ("I keep forgetting to water the plants.", ("I can remind you every few days, if you like.",)),
    ("Traffic was terrible this morning.", ("That's a frustrating way to start the day.",)),
    ("Can you help me plan my week?", ("Sure, let's list the fixed things first.", "Happy to help with that.")),
    ("I think I'm coming down with a cold.", ("Rest, fluids, and take it easy.",)),
    ("What's a good stretch for a stiff neck?", ("Slow side tilts, holding each for twenty seconds.",)),
    ("I finished that novel, the ending surprised me.", ("Good endings stay with you.",)),
    ("Should I learn a new language this year?", ("If you have fifteen minutes a day, why not?",)),
    ("I spent the whole afternoon answering emails.", ("Inbox days are the worst.",)),
    ("My phone battery dies so fast lately.", ("Checking which apps drain it might help.",)),
    ("We're having friends over for games night.", ("That sounds fun, enjoy!",)),
    ("I can't decide what to wear to the party.", ("Something comfortable you feel good in.",)),
    ("Remind me to call the bank tomorrow.", ("I can set a reminder for that.",)),
    ("The new season of that show is out.", ("No spoilers, then!",)),
    ("I've been trying to wake up earlier.", ("Going to bed a bit earlier is the secret.",)),
    ("Give me an idea for a quick lunch.", ("A wrap with hummus and whatever vegetables you have.",)),
    ("I'm so tired, the week dragged on.", ("Almost the weekend. Hang in there.",)),
    ("The neighbours are renovating again, so loud.", ("Earplugs or headphones might save your sanity.",)),
    ("How do I get better at saying no to people?", ("Practise a short, kind sentence and keep it simple.",)),
)
# Replies to a distractor turn: none repeats a value.
DISTRACTOR_REPLIES = (
    "Interesting!",
    "Oh, really?",
    "Small world.",
    "Ha, that's funny.",
    "Good to know.",
    "Fair enough.",
    "That sounds about right.",
)
