"""The words of the simulated feedback stream: templates and slot values, kept apart from the logic.

Every template is a `str.format` pattern. `{brand}` and `{handle}` are the brand's display name and
social handle, `{url}` is the post a share points at; every other slot is filled from `SLOT_VALUES`.
A text that starts with a slot ("{flight} delayed") gets its first letter capitalised once filled.
Complaints deliberately include some plain statements of fact without sentiment words ("flight 212
delayed 3 hours, no update") because real complaints are often worded that way and a scorer that only
counts angry words misses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Tone = Literal["praise", "complaint", "neutral", "idea"]
StageTexts = Mapping[str, Mapping[Tone, tuple[str, ...]]]

_CITIES = (
    "Denver",
    "Lisbon",
    "Chicago",
    "Dublin",
    "Austin",
    "Madrid",
    "Seattle",
    "Toronto",
    "Boston",
    "Reykjavik",
)

SLOT_VALUES: Mapping[str, tuple[str, ...]] = {
    "city": _CITIES,
    "route": tuple(
        f"{origin} to {destination}" for origin in _CITIES for destination in _CITIES if origin != destination
    ),
    "delay": ("45 minutes", "90 minutes", "2 hours", "3 hours", "4 hours", "5 hours", "6 hours"),
    "wait": ("20 minutes", "35 minutes", "45 minutes", "an hour", "over an hour", "2 hours"),
    "days": ("2 days", "3 days", "4 days", "a week", "10 days", "two weeks", "a month"),
    "agent": (
        "Priya",
        "Tom",
        "Carla",
        "Dev",
        "Marek",
        "Aisha",
        "Jonas",
        "Lena",
        "Sam",
        "Rosa",
        "Kenji",
        "Olu",
    ),
    "flight": (
        "flight 212",
        "flight 418",
        "flight 907",
        "flight 1130",
        "flight 64",
        "flight 733",
        "flight 1502",
    ),
    "gate": ("B12", "C4", "A31", "D7", "E22", "B3"),
    "seat": ("12A", "23C", "31F", "7D", "18B", "40E"),
    "bag": ("suitcase", "checked bag", "stroller", "ski bag", "car seat", "duffel bag", "guitar case"),
    "points": ("800 points", "5,000 points", "12,000 points", "20,000 miles", "35,000 miles"),
    "amount": ("$12.99", "$25", "$38.40", "$60", "$89.99", "$120", "$240"),
    "plan": ("unlimited plan", "family plan", "prepaid plan", "5G plan", "data-only plan", "student plan"),
    "device": ("new phone", "tablet", "hotspot", "smartwatch", "foldable phone"),
    "area": (
        "the city centre",
        "the north end",
        "my neighbourhood",
        "the east side",
        "the suburbs",
        "the old town",
    ),
    "product": (
        "pair of running shoes",
        "coffee grinder",
        "winter jacket",
        "desk lamp",
        "blender",
        "office chair",
        "pair of headphones",
        "kettle",
        "backpack",
        "rug",
    ),
    "order": ("order #48213", "order #51977", "order #60342", "order #73105", "order #80419", "order #91266"),
}

AIRLINE_TEXT: StageTexts = {
    "booking": {
        "complaint": (
            "Booking site charged me twice for the {route} ticket and nobody can say when the refund lands.",
            "Seat selection fee only showed up on the last page. Felt like a bait and switch.",
            "Payment page timed out three times while booking {route}, and the fare went up {amount}.",
            "Changing my booking online gave an error, then a {amount} change fee on the phone. Ridiculous.",
            "Confirmation email never arrived, booking reference not found in the app.",
        ),
        "praise": (
            "Booked {route} in about two minutes, really smooth checkout.",
            "Great fare to {city} and the booking flow was clear about every fee.",
            "Changing my dates online was painless, no fee and instant confirmation. Love it.",
        ),
        "neutral": (
            "Booked {route} for next month. The process was fine.",
            "Does {brand} let you hold a fare before paying? Could not find it on the site.",
            "Booking worked. Took a while to find the baggage allowance.",
        ),
        "idea": (
            "Would love an option to hold a fare for 24 hours before paying.",
            "It would be great to see the total price with bags before the last step.",
            "Please add a price alert for {route}, I would book way more often.",
        ),
    },
    "airport": {
        "complaint": (
            "Check-in queue in {city} took {wait} with two desks open. Almost missed my flight.",
            "Gate changed from {gate} to the other end of the terminal and nobody announced it.",
            "Bag drop closed early and the staff in {city} were rude and refused to help.",
            "Waited {wait} at the desk in {city}, kiosks out of order, no staff around.",
        ),
        "praise": (
            "Check-in in {city} was quick and the staff at the desk were lovely.",
            "{agent} at the {city} desk rebooked me in minutes. Excellent service.",
            "Priority lane actually worked today, through security in 10 minutes. Great.",
        ),
        "neutral": (
            "Checked in at {city}, boarding at gate {gate}.",
            "Anyone know if the {brand} lounge in {city} opens early in the morning?",
            "At the airport in {city}, boarding starts in {wait}.",
        ),
        "idea": (
            "Would love an option to drop bags the night before in {city}.",
            "Live queue times for the check-in desks in the app would help a lot.",
        ),
    },
    "flight": {
        "complaint": (
            "{flight} delayed {delay}, no update from the crew.",
            "{flight} from {city} delayed {delay} and nobody told us why. Terrible communication.",
            "Seat {seat} would not recline, the screen was broken and the cabin was freezing.",
            "{flight} cancelled at the gate, no hotel, no food voucher. Worst airline experience ever.",
            "Sat on the tarmac for {delay} with the air conditioning off.",
        ),
        "praise": (
            "Crew on {flight} were fantastic, made a long trip easy.",
            "Landed early in {city}, comfortable seat and friendly cabin crew. Great flight.",
            "Smooth flight {route}, the crew even remembered my kid's birthday. Thank you!",
        ),
        "neutral": (
            "On {flight} to {city}. Boarding done, wifi works.",
            "Flight {route} was on time. Food was ok.",
            "Taking {flight} to {city} today.",
        ),
        "idea": (
            "Would love an option to pre-order meals on short flights.",
            "It would be nice to have charging ports that work at every seat.",
        ),
    },
    "baggage": {
        "complaint": (
            "{brand} lost my {bag} on {route}. {days} later still no update.",
            "Bag arrived with a broken wheel and a torn handle. The claim form keeps failing.",
            "Waited {wait} at the belt in {city} for my {bag}. It never showed up.",
            "{bag} did not arrive in {city}. The tracker shows it still at the origin.",
            "Paid {amount} for a checked bag and it went to a different city. Awful.",
        ),
        "praise": (
            "{brand} found my {bag} and delivered it to my hotel the same evening. Impressed.",
            "Bags were on the belt before I got there. Great job in {city}.",
            "Delayed {bag} came back within a day and the baggage team kept me updated. Thank you.",
        ),
        "neutral": (
            "What is the {brand} allowance for a {bag} on {route}?",
            "Bag tag printed at the kiosk, dropped it off in {city}.",
            "Collected my {bag} in {city}.",
        ),
        "idea": (
            "Would love an option to track my bag live in the app.",
            "Please take a photo of each bag at drop-off so claims are easier.",
        ),
    },
    "support": {
        "complaint": (
            "On hold for {wait} and then the call dropped. Twice.",
            "Agent was rude and hung up on me when I asked about my refund of {amount}.",
            "Refund of {amount} promised {days} ago, still not on my card.",
            "The chatbot keeps looping and there is no way to reach a human. Useless.",
        ),
        "praise": (
            "{agent} on the phone sorted my rebooking in five minutes. Really helpful.",
            "Support chat was quick and friendly, refund of {amount} already processed.",
            "Thank you {agent} for going above and beyond to get me home.",
        ),
        "neutral": (
            "Called support about my refund, they opened a case.",
            "Is there an email address for {brand} support? The chat is closed at night.",
        ),
        "idea": (
            "Would love an option to get a callback instead of waiting on hold.",
            "A refund status tracker on the website would save everyone a call.",
        ),
    },
    "loyalty": {
        "complaint": (
            "{points} missing from my account after {route}, third time I have to claim them.",
            "Status downgraded without notice. Years of loyalty for nothing.",
            "Award seats are never available, the points are basically worthless.",
            "Points for {flight} still not credited after {days}.",
        ),
        "praise": (
            "Upgraded on {route} thanks to my status. Love this program.",
            "Redeemed {points} for a flight to {city}, super easy.",
            "Lounge access and priority boarding made the trip great. Worth the status.",
        ),
        "neutral": (
            "How many points do I need for a flight to {city} with {brand}?",
            "Just reached silver status with {brand}.",
        ),
        "idea": (
            "Would love an option to pool points with family members.",
            "Please let us use points to pay for extra bags.",
        ),
    },
}

TELECOM_TEXT: StageTexts = {
    "discover": {
        "complaint": (
            "Coverage map says full 5G in {area}, reality is one bar.",
            "The {plan} advert hides the price after 12 months. Misleading.",
            "Asked in store about the {plan} and got three different prices.",
        ),
        "praise": (
            "Clear pricing on the {plan}, no hidden extras. Nice change.",
            "Store staff explained every plan without pushing. Really helpful.",
        ),
        "neutral": (
            "Comparing the {brand} {plan} with other carriers. How is coverage in {area}?",
            "Looking at the {plan}, what is the price after the promo?",
        ),
        "idea": (
            "Would love an option to test the network for a week before signing.",
            "A coverage checker by street address would make choosing easier.",
        ),
    },
    "purchase": {
        "complaint": (
            "Ordered the {plan} online and got charged a {amount} activation fee nobody mentioned.",
            "Checkout kept failing, then the order went through twice. Terrible.",
            "{device} ordered {days} ago, status still says processing.",
        ),
        "praise": (
            "Signed up for the {plan} in ten minutes. Easy and fast.",
            "Great deal on a {device}, delivered the next day.",
        ),
        "neutral": (
            "Ordered a {device} with the {plan}.",
            "Does {brand} ship SIM cards overnight?",
        ),
        "idea": (
            "Would love an option to pay off the {device} early without calling.",
            "Please show the total cost over 24 months on the checkout page.",
        ),
    },
    "onboard": {
        "complaint": (
            "Number transfer failed and I had no service for {days}. Awful.",
            "eSIM activation stuck for {wait}, had to go to a store.",
            "SIM arrived with the wrong activation code. Nobody in support could fix it.",
        ),
        "praise": (
            "Number transfer took 15 minutes and everything just worked. Impressed.",
            "eSIM set up in the app in minutes, great onboarding.",
        ),
        "neutral": (
            "Activated my SIM today, moving my number over.",
            "How long does a number transfer to {brand} usually take?",
        ),
        "idea": (
            "Would love an option to keep the old number active until the transfer completes.",
            "A setup checklist in the app would help first-time users.",
        ),
    },
    "use": {
        "complaint": (
            "No signal in {area} since this morning. Outage again?",
            "Data speeds drop to nothing every evening in {area}. Paying for the {plan} for this.",
            "Calls dropping all day in {area}, third outage this month. Terrible.",
            "Mobile data down in {area} for {wait}, no status update.",
        ),
        "praise": (
            "5G in {area} is seriously fast now. Great job.",
            "Roaming worked perfectly in {city}, no surprise charges.",
            "Not a single dropped call since switching. Solid network, happy customer.",
        ),
        "neutral": (
            "Speed test in {area}: about 80 Mbps.",
            "Is there an outage in {area}? Just checking.",
        ),
        "idea": (
            "Would love an option to roll over unused data to next month.",
            "Wifi calling on the smartwatch would be great.",
        ),
    },
    "support": {
        "complaint": (
            "Billing error charged me {amount} twice and support keeps transferring me.",
            "On hold for {wait}, then told to visit a store. Useless support.",
            "Agent promised a credit of {amount} {days} ago, still not on my bill.",
        ),
        "praise": (
            "{agent} fixed my billing error and credited {amount}. Excellent support.",
            "Chat support solved my roaming issue in minutes. Thank you {agent}.",
        ),
        "neutral": (
            "Opened a ticket about my bill.",
            "What are the {brand} support hours on weekends?",
        ),
        "idea": (
            "Would love an option to book a callback slot with support.",
            "Please show a breakdown of each charge on the bill.",
        ),
    },
    "renew": {
        "complaint": (
            "Renewal price jumped by {amount} a month with no warning.",
            "Loyal customer for years and new customers get the better deal. Not fair.",
            "Contract auto-renewed on the {plan} at the higher price.",
        ),
        "praise": (
            "Renewed and they gave me a better deal without asking. Love it.",
            "Upgrade to a {device} was smooth, great renewal offer.",
        ),
        "neutral": (
            "Contract is up next month, checking renewal offers.",
            "Does {brand} offer loyalty discounts on the {plan}?",
        ),
        "idea": (
            "Would love an option to see renewal offers before the contract ends.",
            "A reminder 30 days before renewal would be helpful.",
        ),
    },
    "leave": {
        "complaint": (
            "Cancelling after {days} of trying. An exit fee of {amount} is a joke.",
            "Had to call four times just to get my transfer code. Terrible.",
            "Cancelled last month and still billed {amount}.",
        ),
        "praise": (
            "Leaving for a cheaper plan but the cancellation was quick and fair. Thanks.",
            "Cancellation done in one call, no pressure. Respect.",
        ),
        "neutral": (
            "Switching carriers next week, moving my number out.",
            "How do I cancel my {brand} contract online?",
        ),
        "idea": (
            "Would love an option to cancel online without a phone call.",
            "Let customers pause a plan instead of cancelling.",
        ),
    },
}

RETAIL_TEXT: StageTexts = {
    "discover": {
        "complaint": (
            "Search on the site is useless, typed {product} and got garden furniture.",
            "Ads say the {product} is on sale but the site shows full price. Misleading.",
            "{product} listed in stock online, store shelf empty.",
        ),
        "praise": (
            "Love the reviews and photos on the {product} page, made choosing easy.",
            "Great selection, found the exact {product} I wanted.",
        ),
        "neutral": (
            "Browsing {brand} for a {product}. Any recommendations?",
            "Is the {product} sale online only?",
        ),
        "idea": (
            "Would love an option to compare two products side by side.",
            "A size guide with real measurements would really help.",
        ),
    },
    "purchase": {
        "complaint": (
            "Checkout crashed twice and my discount code vanished. So frustrating.",
            "Charged {amount} for shipping at the very last step. Felt sneaky.",
            "Payment taken, no confirmation email for {order}.",
        ),
        "praise": (
            "Checkout was quick and the discount applied automatically. Nice.",
            "Bought a {product} in two clicks, easy and fast.",
        ),
        "neutral": (
            "Placed {order} for a {product}.",
            "Does {brand} accept gift cards online?",
        ),
        "idea": (
            "Would love an option to split a payment between two cards.",
            "Please add a digital wallet option at checkout.",
        ),
    },
    "onboard": {
        "complaint": (
            "{order} arrived {days} late and the box was crushed.",
            "Delivery marked as delivered but nothing at my door.",
            "{product} arrived damaged with parts missing. Very disappointed.",
        ),
        "praise": (
            "{product} arrived a day early and well packed. Great service.",
            "Delivery driver was super friendly and careful. Thank you.",
        ),
        "neutral": (
            "{order} is out for delivery today.",
            "When does {brand} deliver on weekends?",
        ),
        "idea": (
            "Would love an option to pick a delivery time slot.",
            "Live driver tracking would save me waiting at home all day.",
        ),
    },
    "use": {
        "complaint": (
            "{product} stopped working after {days}. Cheap quality.",
            "{product} looks nothing like the photos. Disappointed.",
            "{product} fell apart after two uses.",
        ),
        "praise": (
            "Really happy with the {product}, excellent quality for the price.",
            "Using the {product} every day, love it.",
        ),
        "neutral": (
            "Had the {product} for {days} now. Does the job.",
            "Does the {product} come with a warranty?",
        ),
        "idea": (
            "Would love an option to buy spare parts for the {product}.",
            "Video guides for setting up the {product} would be helpful.",
        ),
    },
    "support": {
        "complaint": (
            "Waiting {days} for a reply about {order}. Terrible customer service.",
            "Chat agent closed my ticket without fixing anything. Rude.",
            "Return label for {order} never sent.",
        ),
        "praise": (
            "{agent} from support replaced my {product} right away. Brilliant.",
            "Refund of {amount} processed the same day. Very helpful team.",
        ),
        "neutral": (
            "Contacted support about {order}, waiting for a reply.",
            "What is the {brand} return window for a {product}?",
        ),
        "idea": (
            "Would love an option to start a return in the app.",
            "Please add order tracking to the support chat.",
        ),
    },
    "renew": {
        "complaint": (
            "Membership renewed automatically for {amount} without a reminder. Not ok.",
            "Subscribe and save price went up {amount} without telling me.",
            "Reorder button adds the wrong size every time.",
        ),
        "praise": (
            "Membership pays for itself, free delivery every week. Love it.",
            "Reordered my {product} in seconds. So convenient.",
        ),
        "neutral": (
            "Membership renews next month.",
            "Is the {brand} membership worth it for occasional orders?",
        ),
        "idea": (
            "Would love an option to pause my membership over the summer.",
            "A reminder before the membership renews would be nice.",
        ),
    },
    "leave": {
        "complaint": (
            "Closing my account. {days} waiting for a refund of {amount} is ridiculous.",
            "Cancelled my membership, still charged {amount}.",
            "Done with {brand}. Third damaged {product} in a row.",
        ),
        "praise": (
            "Closing my account since I moved abroad, but {brand} was always great.",
            "Cancelled the membership online in one click. Appreciated.",
        ),
        "neutral": (
            "How do I delete my {brand} account?",
            "Cancelled my membership today.",
        ),
        "idea": (
            "Would love an option to download my order history before closing the account.",
            "Let members pause instead of cancelling.",
        ),
    },
}

# Social posts are the same stories told in public: sometimes addressed to the brand, sometimes signed
# off with a hashtag. Neutral posts get no sign-off so that they stay neutral.
SOCIAL_OPENERS: tuple[str, ...] = ("", "", "", "{handle} ", "{handle} ")
SOCIAL_CLOSERS: Mapping[Tone, tuple[str, ...]] = {
    "complaint": ("", "", "", " #fail", " Not impressed.", " Do better.", " Thanks for nothing."),
    "praise": ("", "", " #happycustomer", " Thank you!", " Well done."),
    "neutral": ("",),
    "idea": ("", "", " Just a thought.", " Please!"),
}

# The brewing crisis: damaged instruments and luggage in the crisis brand's baggage handling.
CRISIS_HASHTAG = "#AcmeBreaksGuitars"
CRISIS_COMPLAINTS: tuple[str, ...] = (
    "{handle} baggage crew in {city} threw my guitar case off the cart. Neck snapped, claim denied.",
    "Watched {brand} handlers toss instruments onto the belt in {city}. My cello case is cracked.",
    "{handle} smashed my {bag} and the claims desk says the damage is not covered. Unbelievable.",
    "Second broken guitar on {brand} this year. Musicians, do not check instruments with them. " + CRISIS_HASHTAG,
    "Damaged luggage claim filed {days} ago, still no reply from {handle}.",
    "Just saw the guitar video. Same thing happened to my {bag} on {route}. {handle} does not care.",
    "My {bag} came off {flight} with a crushed corner and a torn strap. Nobody at the desk would log it.",
    "How is {handle} still silent about the smashed guitars? Fix your baggage handling.",
    "Guitar case arrived in {city} split open, strings everywhere.",
    "Cancelling my {brand} trip after seeing how they treat checked bags. " + CRISIS_HASHTAG,
    "{bag} handed back in {city} with a broken frame. Third damaged bag with {brand}.",
)
CRISIS_SURVEY_COMMENTS: tuple[str, ...] = (
    "My guitar case was cracked on arrival and the claim was refused.",
    "Suitcase came back with a broken handle and a split corner. No help at the desk.",
    "Instrument damaged in the hold. Claim still open after {days}.",
    "{bag} arrived in {city} crushed.",
)
VIRAL_ORIGIN_HANDLE = "gigging_guitarist_dan"
VIRAL_ORIGIN_POST = (
    "{handle} baggage handlers in {city} threw my guitar onto the tarmac while I watched from my "
    "window seat on {flight}. It is in pieces and the claims desk just shrugged. Video below. " + CRISIS_HASHTAG
)
VIRAL_SHARES: tuple[str, ...] = (
    "This is awful. {handle} needs to make this right {url}",
    "Sharing so {handle} cannot ignore it {url}",
    "Every musician should watch this before flying {brand} {url}",
    "And this is why I drive to gigs now {url}",
    "Same thing happened to my {bag} last year. {handle} never changes {url} " + CRISIS_HASHTAG,
)
CRISIS_INFLUENCER_HANDLE = "jetset_jules"
INFLUENCER_POST = (
    "I fly {brand} 80 times a year. After watching them smash a musician's guitar and deny the claim, "
    "I am done with them. {handle} you owe this man a guitar and an apology. {url}"
)

# Accounts with a large following who talk about all kinds of brands.
INFLUENCER_HANDLES: tuple[str, ...] = (
    "wanderlust_wren",
    "techtalk_theo",
    "style_by_sofia",
    "frequentflyer_fei",
    "budget_bytes",
)
HANDLE_FIRST_WORDS: tuple[str, ...] = (
    "sunny",
    "quiet",
    "urban",
    "coffee",
    "retro",
    "lucky",
    "night",
    "wild",
    "pixel",
    "salty",
    "tiny",
    "brave",
    "lazy",
    "north",
    "rainy",
    "mellow",
    "cosmic",
    "busy",
    "paper",
    "velvet",
)
HANDLE_SECOND_WORDS: tuple[str, ...] = (
    "traveler",
    "fox",
    "runner",
    "baker",
    "nomad",
    "gamer",
    "panda",
    "reader",
    "otter",
    "dad",
    "mom",
    "cyclist",
    "chef",
    "coder",
    "owl",
    "surfer",
    "gardener",
    "drummer",
    "hiker",
    "writer",
)

SUBREDDITS: Mapping[str, tuple[str, ...]] = {
    "airline": ("travel", "flying", "airlines"),
    "telecom": ("mobile", "NoContract", "cellphones"),
    "retail": ("shopping", "Frugal", "BuyItForLife"),
}
