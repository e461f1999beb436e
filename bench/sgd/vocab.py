"""Every wording of the SGD evaluation in one place: kinds, value groups, question templates, selectors, fillers.

This module is data. The rest of ``bench.sgd`` reads it and never spells a caller's words itself.

- ``SERVICES``: which SGD services the evaluation understands, and for each the kind of thing it
  books or plays (``KINDS``) and which of its slots carry a value of which *value group* (a
  restaurant name, a time, a party size, an address...). A dialogue of another service is skipped
  and counted; adding a service is adding its entry here.
- ``QUESTIONS[kind][group]``: question templates with a ``{when}`` placeholder for the selector
  phrase and, for events, ``{event}`` (concert / game).
- ``SELECTORS[selector]``: the phrases that point at an earlier call (recency, ordinal, time, kind).
- Templates are split between the two halves of the data: the tuning half is asked with the even-numbered
  wordings of each list, the held-out half with the odd-numbered ones (``for_half``), so tuning on
  the tuning half's wordings does not tune on the held-out half's.
- ``FILLER_WORDS``: a turn made only of these words (after normalisation) is a filler/backchannel.
- Identity lines (account number or e-mail said aloud) and the voice variant's fillers and backchannels.
"""

from __future__ import annotations

from collections.abc import Sequence

# --------------------------------------------------------------------------- services and kinds

# kind -> how the caller names it (for reports) and the verb phrase used by "the first time I ..."
KINDS: dict[str, dict[str, str]] = {
    "restaurant": {"label": "restaurant table", "did": "booked a table"},
    "event": {"label": "event tickets", "did": "bought tickets"},
    "song": {"label": "song played", "did": "had you play a song"},
    "movie": {"label": "movie played", "did": "watched a movie"},
    # the full release's services (``--data``, halves more-tune / more-heldout; see bench/sgd/data.py)
    "flight": {"label": "flight", "did": "booked a flight"},
    "bus": {"label": "bus tickets", "did": "bought bus tickets"},
    "train": {"label": "train tickets", "did": "bought train tickets"},
    "hotel": {"label": "place to stay", "did": "booked a hotel"},
    "car": {"label": "rental car", "did": "rented a car"},
    "ride": {"label": "ride", "did": "booked a ride"},
    "appointment": {"label": "appointment", "did": "booked an appointment"},
    "transfer": {"label": "money transfer", "did": "sent money"},
    "visit": {"label": "property visit", "did": "set up a visit to a property"},
}


def _event_slots(*, category: str) -> dict[str, str]:
    """The slots of Events_2 and Events_3 (one map: the two services name only their category slot apart)."""
    return {
        "event_name": "event",
        "date": "date",
        "time": "time",
        "number_of_tickets": "party",
        "city": "city",
        "venue": "venue",
        "venue_address": "address",
        category: "category",
    }


def _song_slots(*, song: str, device: str) -> dict[str, str]:
    """The slots of Music_1, Music_2 and Music_3 (one map: Music_3 names the song and the device slots apart)."""
    return {song: "song", "artist": "artist", "album": "album", "genre": "genre", device: "device"}


# service -> (kind, transactional intents whose success makes the episode, slot -> value group)
SERVICES: dict[str, tuple[str, frozenset[str], dict[str, str]]] = {
    "Restaurants_1": (
        "restaurant",
        frozenset({"ReserveRestaurant"}),
        {
            "restaurant_name": "restaurant",
            "date": "date",
            "time": "time",
            "party_size": "party",
            "street_address": "address",
            "phone_number": "phone",
            "price_range": "price",
            "city": "city",
            "cuisine": "cuisine",
        },
    ),
    "Events_1": (
        "event",
        frozenset({"BuyEventTickets"}),
        {
            "event_name": "event",
            "date": "date",
            "time": "time",
            "number_of_seats": "party",
            "city_of_event": "city",
            "event_location": "venue",
            "address_of_location": "address",
            "subcategory": "category",
        },
    ),
    "Events_2": ("event", frozenset({"BuyEventTickets"}), _event_slots(category="category")),
    "Music_1": ("song", frozenset({"PlaySong"}), _song_slots(song="song_name", device="playback_device")),
    "Music_2": ("song", frozenset({"PlayMedia"}), _song_slots(song="song_name", device="playback_device")),
    # the test split's concerts and songs (tune4 reads them; more-heldout's file 001 has ten songs)
    "Events_3": ("event", frozenset({"BuyEventTickets"}), _event_slots(category="event_type")),
    "Music_3": ("song", frozenset({"PlayMedia"}), _song_slots(song="track", device="device")),
    "Media_1": (
        "movie",
        frozenset({"PlayMovie"}),
        {"title": "movie", "directed_by": "director", "genre": "genre"},
    ),
    # ---- the full release (train split: more-tune; test split: more-heldout)
    "Flights_1": (
        "flight",
        frozenset({"ReserveOnewayFlight", "ReserveRoundtripFlights"}),
        {
            "airlines": "airline",
            "origin_city": "from",
            "destination_city": "to",
            "origin_airport": "airport",
            "destination_airport": "arrival_airport",
            "departure_date": "date",
            "return_date": "return_date",
            "outbound_departure_time": "time",
            "passengers": "party",
            "seating_class": "class",
            "price": "price",
        },
    ),
    "Buses_1": (
        "bus",
        frozenset({"BuyBusTicket"}),
        {
            "from_location": "from",
            "to_location": "to",
            "from_station": "station",
            "to_station": "arrival_station",
            "leaving_date": "date",
            "leaving_time": "time",
            "travelers": "party",
            "fare": "price",
        },
    ),
    "Buses_2": (
        "bus",
        frozenset({"BuyBusTicket"}),
        {
            "origin": "from",
            "destination": "to",
            "origin_station_name": "station",
            "destination_station_name": "arrival_station",
            "departure_date": "date",
            "departure_time": "time",
            "group_size": "party",
            "price": "price",
            "fare_type": "class",
        },
    ),
    "Buses_3": (
        "bus",
        frozenset({"BuyBusTicket"}),
        {
            "from_city": "from",
            "to_city": "to",
            "from_station": "station",
            "to_station": "arrival_station",
            "departure_date": "date",
            "departure_time": "time",
            "num_passengers": "party",
            "price": "price",
        },
    ),
    "Trains_1": (
        "train",
        frozenset({"GetTrainTickets"}),
        {
            "from": "from",
            "to": "to",
            "from_station": "station",
            "to_station": "arrival_station",
            "date_of_journey": "date",
            "journey_start_time": "time",
            "number_of_adults": "party",
            "total": "price",
            "class": "class",
        },
    ),
    "Hotels_1": (
        "hotel",
        frozenset({"ReserveHotel"}),
        {
            "hotel_name": "hotel",
            "destination": "city",
            "check_in_date": "date",
            "number_of_days": "nights",
            "number_of_rooms": "rooms",
            "street_address": "address",
            "phone_number": "phone",
            "price_per_night": "price",
        },
    ),
    "Hotels_2": (
        "hotel",
        frozenset({"BookHouse"}),
        {
            "where_to": "city",
            "check_in_date": "date",
            "check_out_date": "checkout",
            "number_of_adults": "party",
            "address": "address",
            "phone_number": "phone",
            "total_price": "price",
        },
    ),
    "Hotels_3": (
        "hotel",
        frozenset({"ReserveHotel"}),
        {
            "hotel_name": "hotel",
            "location": "city",
            "check_in_date": "date",
            "check_out_date": "checkout",
            "number_of_rooms": "rooms",
            "street_address": "address",
            "phone_number": "phone",
            "price": "price",
        },
    ),
    "Hotels_4": (
        "hotel",
        frozenset({"ReserveHotel"}),
        {
            "place_name": "hotel",
            "location": "city",
            "check_in_date": "date",
            "stay_length": "nights",
            "number_of_rooms": "rooms",
            "street_address": "address",
            "phone_number": "phone",
            "price_per_night": "price",
        },
    ),
    "RentalCars_1": (
        "car",
        frozenset({"ReserveCar"}),
        {
            "car_name": "car",
            "type": "car_type",
            "pickup_location": "pickup",
            "pickup_city": "city",
            "pickup_date": "date",
            "pickup_time": "time",
            "dropoff_date": "return_date",
            "total_price": "price",
        },
    ),
    "RentalCars_2": (
        "car",
        frozenset({"ReserveCar"}),
        {
            "car_name": "car",
            "car_type": "car_type",
            "pickup_location": "pickup",
            "pickup_city": "city",
            "pickup_date": "date",
            "pickup_time": "time",
            "dropoff_date": "return_date",
            "total_price": "price",
        },
    ),
    "RentalCars_3": (
        "car",
        frozenset({"ReserveCar"}),
        {
            "car_name": "car",
            "car_type": "car_type",
            "pickup_location": "pickup",
            "city": "city",
            "start_date": "date",
            "pickup_time": "time",
            "end_date": "return_date",
            "price_per_day": "price",
        },
    ),
    "RideSharing_1": (
        "ride",
        frozenset({"GetRide"}),
        {
            "destination": "to",
            "number_of_riders": "party",
            "ride_fare": "price",
            "approximate_ride_duration": "duration",
        },
    ),
    "RideSharing_2": (
        "ride",
        frozenset({"GetRide"}),
        {
            "destination": "to",
            "number_of_seats": "party",
            "ride_fare": "price",
            "ride_type": "ride_type",
            "wait_time": "wait",
        },
    ),
    "Services_1": (
        "appointment",
        frozenset({"BookAppointment"}),
        {
            "stylist_name": "provider",
            "appointment_date": "date",
            "appointment_time": "time",
            "street_address": "address",
            "phone_number": "phone",
            "city": "city",
        },
    ),
    "Services_2": (
        "appointment",
        frozenset({"BookAppointment"}),
        {
            "dentist_name": "provider",
            "appointment_date": "date",
            "appointment_time": "time",
            "address": "address",
            "phone_number": "phone",
            "city": "city",
        },
    ),
    "Services_3": (
        "appointment",
        frozenset({"BookAppointment"}),
        {
            "doctor_name": "provider",
            "appointment_date": "date",
            "appointment_time": "time",
            "street_address": "address",
            "phone_number": "phone",
            "city": "city",
        },
    ),
    "Services_4": (
        "appointment",
        frozenset({"BookAppointment"}),
        {
            "therapist_name": "provider",
            "appointment_date": "date",
            "appointment_time": "time",
            "address": "address",
            "phone_number": "phone",
            "city": "city",
        },
    ),
    "Banks_1": (
        "transfer",
        frozenset({"TransferMoney"}),
        {"amount": "amount", "recipient_account_name": "recipient", "account_type": "account"},
    ),
    "Payment_1": (
        "transfer",
        frozenset({"MakePayment"}),
        {"amount": "amount", "receiver": "recipient", "payment_method": "account"},
    ),
    "Homes_1": (
        "visit",
        frozenset({"ScheduleVisit"}),
        {
            "property_name": "property",
            "address": "address",
            "area": "city",
            "visit_date": "date",
            "phone_number": "phone",
            "rent": "price",
        },
    ),
    "Homes_2": (
        "visit",
        frozenset({"ScheduleVisit"}),
        {
            "property_name": "property",
            "address": "address",
            "area": "city",
            "visit_date": "date",
            "phone_number": "phone",
            "price": "price",
        },
    ),
}

# value groups that a caller may change during a booking (a system confirmation, then "no, make it ...")
UPDATABLE = frozenset(
    {"date", "time", "party", "device", "city", "restaurant", "event", "song", "movie"}
    | {"to", "from", "hotel", "car", "pickup", "provider", "property", "amount", "recipient", "return_date"}
)

# An event's noun, from the booked event's type (service_results "event_type" / "category").
EVENT_NOUNS = {"music": "concert", "sports": "game"}

# --------------------------------------------------------------------------- questions

# QUESTIONS[kind][group]: {when} is a selector phrase (may be empty); {event} an event noun.
QUESTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "restaurant": {
        "restaurant": (
            "Which restaurant did I book {when}?",
            "What was the name of the restaurant I reserved {when}?",
            "Remind me where I had a table {when}.",
            "The restaurant you booked for me {when}, what was it called?",
            "I forgot the name of the place we booked {when}, can you tell me?",
            "Where did you get me a table {when}?",
        ),
        "time": (
            "What time was the table I booked {when}?",
            "What time was the restaurant reservation I made {when}?",
            "The dinner booking I made {when}, what time was that at?",
            "Can you remind me what time I reserved the table for, {when}?",
            "At what time was the restaurant booking I made {when}?",
            "The table you booked for me {when}, what time was it?",
        ),
        "date": (
            "What day was the restaurant reservation I made {when}?",
            "Which date did I book the table for, {when}?",
            "The restaurant booking I made {when}, what date was it?",
            "For which day did you reserve the table {when}?",
        ),
        "party": (
            "For how many people was the table I booked {when}?",
            "For how many did I book the restaurant {when}?",
            "The table I reserved {when}, how many seats was that?",
            "What party size did we put on the restaurant booking {when}?",
        ),
        "address": (
            "What's the address of the restaurant I booked {when}?",
            "Where is the restaurant I reserved {when} located?",
            "Can you give me the street address of the restaurant I booked {when}?",
            "On which street was the restaurant I reserved {when}?",
        ),
        "phone": (
            "What was the phone number of the restaurant I booked {when}?",
            "Can you give me the number of the restaurant I reserved {when}?",
            "I need to call the restaurant I reserved {when}, what's their number?",
            "Do you have the contact number of the restaurant you booked {when}?",
        ),
        "price": (
            "How expensive was the restaurant I booked {when}?",
            "What price range was the restaurant I reserved {when}?",
            "Was the restaurant I reserved {when} pricey?",
            "The restaurant you booked for me {when}, was it cheap or expensive?",
        ),
        "city": (
            "In which city was the restaurant I booked {when}?",
            "In what city did I reserve the table {when}?",
            "The table you booked {when}, which town was that in?",
            "In what city was the dinner reservation I made {when}?",
        ),
    },
    "event": {
        "event": (
            "Which {event} did I buy tickets for {when}?",
            "What was the {event} I got tickets for {when}?",
            "Remind me what the tickets I bought {when} were for.",
            "The tickets I bought {when}, which {event} was that?",
            "What event did you book for me {when}?",
            "I forgot which {event} I booked {when}, can you tell me?",
        ),
        "time": (
            "What time does the {event} I booked {when} start?",
            "What time was the {event} I bought tickets for {when}?",
            "The {event} I booked {when}, what time is it?",
            "When does the {event} I bought tickets for {when} begin?",
            "What's the start time of the {event} I booked {when}?",
            "The tickets you got me {when}, what time was the {event}?",
        ),
        "date": (
            "What date is the {event} I bought tickets for {when}?",
            "For which day were the tickets I bought {when}?",
            "The {event} I booked {when}, which date was that?",
            "On what day is the {event} I got tickets for {when}?",
        ),
        "party": (
            "How many tickets did I buy {when}?",
            "For how many people were the {event} tickets I bought {when}?",
            "How many seats did I get for the {event} {when}?",
            "The tickets you booked for me {when}, how many were there?",
        ),
        "venue": (
            "Where is the {event} I booked {when}, which venue?",
            "What was the venue of the {event} I bought tickets for {when}?",
            "At which stadium or hall is the {event} I booked {when}?",
            "At which venue are the tickets I bought {when}?",
        ),
        "address": (
            "What's the address of the venue for the {event} I booked {when}?",
            "Where exactly is the {event} I got tickets for {when}, the street address?",
            "Can you give me the address of the {event} I booked {when}?",
            "Which street is the venue on, for the {event} I booked {when}?",
        ),
        "city": (
            "In which city is the {event} I booked {when}?",
            "In what city were the tickets I bought {when}?",
            "The {event} I booked {when}, what town was that in?",
            "In which city is the {event} I got tickets for {when}?",
        ),
    },
    "song": {
        "song": (
            "Which song did you play for me {when}?",
            "What was the song I asked you to play {when}?",
            "Remind me of the track you put on {when}.",
            "The song you played {when}, what was it called?",
            "What was that song I listened to {when}?",
            "I liked the song you played {when}, what was its name?",
        ),
        "artist": (
            "Who was the artist of the song you played {when}?",
            "Who sang the song I listened to {when}?",
            "The track you put on {when}, who was it by?",
            "Which singer or band did I listen to {when}?",
        ),
        "album": (
            "From which album was the song you played {when}?",
            "What album did the track you played {when} come from?",
            "The song I listened to {when}, what album is that on?",
            "Remind me of the album of the song you played {when}.",
        ),
        "device": (
            "Which speaker did you play the song on {when}?",
            "Where did the music play {when}, on which device?",
            "What device did I have the song on {when}?",
            "The song you played {when}, was it on the TV or a speaker?",
        ),
    },
    "movie": {
        "movie": (
            "Which movie did I watch {when}?",
            "What was the film you started for me {when}?",
            "Remind me of the movie I played {when}.",
            "The movie I watched {when}, what was it called?",
        ),
        "director": (
            "Who directed the movie I watched {when}?",
            "Who was the director of the film I saw {when}?",
            "The movie you played {when}, who made it?",
            "Remind me who directed the film I watched {when}.",
        ),
    },
    # ---- the full release's kinds
    "flight": {
        "airline": (
            "Which airline was the flight I booked {when}?",
            "What airline did you book me on {when}?",
            "The flight I reserved {when}, which carrier was it with?",
            "Who was I flying with on the flight I booked {when}?",
        ),
        "to": (
            "Where was I flying to on the flight I booked {when}?",
            "What was the destination of the flight you booked me {when}?",
            "The plane tickets I got {when}, where were they to?",
            "Which city did I book a flight to {when}?",
        ),
        "from": (
            "Where was the flight I booked {when} leaving from?",
            "Which city did the flight I reserved {when} depart from?",
            "The flight you booked for me {when}, where did it take off from?",
            "From what city was I flying, on the flight I booked {when}?",
        ),
        "time": (
            "What time does the flight I booked {when} leave?",
            "What was the departure time of the flight I reserved {when}?",
            "The flight you booked me {when}, what time was takeoff?",
            "When does my flight take off, the one I booked {when}?",
        ),
        "date": (
            "What day was the flight I booked {when}?",
            "On which date do I fly, on the flight I reserved {when}?",
            "The flight you booked for me {when}, what date does it leave?",
            "For which day did I book the flight {when}?",
        ),
        "party": (
            "How many passengers was the flight I booked {when} for?",
            "For how many people did I book the flight {when}?",
            "The plane tickets I bought {when}, how many were there?",
            "How many seats did you book on the flight {when}?",
        ),
        "class": (
            "Which class did I fly in on the flight I booked {when}?",
            "What cabin was the flight you booked me {when}, economy or business?",
            "The flight I reserved {when}, what seating class was it?",
            "Did I book economy or something better on the flight {when}?",
        ),
        "price": (
            "How much was the flight I booked {when}?",
            "What did the plane tickets cost that I bought {when}?",
            "The flight you booked for me {when}, what was the fare?",
            "What price did I pay for the flight I reserved {when}?",
        ),
    },
    "bus": {
        "to": (
            "Where was the bus I booked {when} going to?",
            "What was the destination of the bus tickets I bought {when}?",
            "The bus trip I booked {when}, where was it headed?",
            "Which city did I get a bus ticket to {when}?",
        ),
        "from": (
            "Where did the bus I booked {when} leave from?",
            "From which city was the bus ticket I bought {when}?",
            "The bus you booked me on {when}, where did it depart from?",
            "What was the starting city of the bus trip I booked {when}?",
        ),
        "time": (
            "What time does the bus I booked {when} leave?",
            "What was the departure time of the bus tickets I bought {when}?",
            "The bus you booked for me {when}, what time was it?",
            "When does the bus I got tickets for {when} depart?",
        ),
        "date": (
            "What day was the bus I booked {when}?",
            "For which date were the bus tickets I bought {when}?",
            "The bus trip you booked me {when}, what date was that?",
            "On which day do I travel on the bus I booked {when}?",
        ),
        "party": (
            "How many bus tickets did I buy {when}?",
            "For how many people was the bus I booked {when}?",
            "The bus trip I booked {when}, how many travellers was it for?",
            "How many seats on the bus did you get me {when}?",
        ),
        "station": (
            "Which station does the bus I booked {when} leave from?",
            "What was the departure station of the bus tickets I bought {when}?",
            "The bus you booked me {when}, which terminal do I board at?",
            "Where do I catch the bus I booked {when}, which station?",
        ),
        "price": (
            "How much were the bus tickets I bought {when}?",
            "What did the bus I booked {when} cost?",
            "The bus trip you booked {when}, what was the fare?",
            "What price did I pay for the bus tickets {when}?",
        ),
    },
    "train": {
        "to": (
            "Where was the train I booked {when} going?",
            "What was the destination of the train tickets I bought {when}?",
            "The train trip I booked {when}, where was it to?",
            "Which city did I get train tickets to {when}?",
        ),
        "from": (
            "Where did the train I booked {when} leave from?",
            "From which city were the train tickets I bought {when}?",
            "The train you booked me on {when}, where does it depart from?",
            "What was the starting city of the train journey I booked {when}?",
        ),
        "time": (
            "What time does the train I booked {when} leave?",
            "What was the departure time of the train tickets I bought {when}?",
            "The train you booked for me {when}, what time was it?",
            "When does the train I got tickets for {when} depart?",
        ),
        "date": (
            "What day was the train I booked {when}?",
            "For which date were the train tickets I bought {when}?",
            "The train journey you booked me {when}, what date was it?",
            "On which day do I travel on the train I booked {when}?",
        ),
        "party": (
            "How many train tickets did I buy {when}?",
            "For how many people was the train I booked {when}?",
            "The train journey I booked {when}, how many passengers?",
            "How many seats on the train did you get me {when}?",
        ),
        "station": (
            "Which station does the train I booked {when} leave from?",
            "What was the departure station of the train tickets I bought {when}?",
            "The train you booked me {when}, which station do I get on at?",
            "Where do I board the train I booked {when}, which station?",
        ),
        "price": (
            "How much were the train tickets I bought {when}?",
            "What did the train I booked {when} cost?",
            "The train journey you booked {when}, what was the total?",
            "What price did I pay for the train tickets {when}?",
        ),
    },
    "hotel": {
        "hotel": (
            "Which hotel did I book {when}?",
            "What was the name of the hotel I reserved {when}?",
            "Remind me where I was staying, the hotel I booked {when}.",
            "The hotel you booked for me {when}, what was it called?",
        ),
        "city": (
            "In which city was the place I booked to stay {when}?",
            "Where was the hotel I reserved {when}, which city?",
            "The stay you booked for me {when}, what town was it in?",
            "In what city did I book accommodation {when}?",
        ),
        "date": (
            "What day do I check in at the place I booked {when}?",
            "What was the check-in date of the hotel I reserved {when}?",
            "The stay you booked me {when}, when does it start?",
            "For which date did I book the room {when}?",
        ),
        "address": (
            "What's the address of the place I booked to stay {when}?",
            "Where exactly is the hotel I reserved {when}, the street address?",
            "Can you give me the address of the accommodation I booked {when}?",
            "On which street is the hotel you booked for me {when}?",
        ),
        "phone": (
            "What's the phone number of the hotel I booked {when}?",
            "Can you give me the number of the place I reserved to stay {when}?",
            "I need to call the hotel I booked {when}, what's their number?",
            "Do you have the contact number of the accommodation you booked {when}?",
        ),
        "price": (
            "How much was the hotel I booked {when}?",
            "What did the place I reserved to stay {when} cost?",
            "The stay you booked me {when}, what was the price?",
            "What rate did I get on the room I booked {when}?",
        ),
    },
    "car": {
        "car": (
            "Which car did I rent {when}?",
            "What was the model of the rental car I booked {when}?",
            "The car you reserved for me {when}, what was it?",
            "What car did I get from the rental {when}?",
        ),
        "car_type": (
            "What type of car did I rent {when}?",
            "Was the car I rented {when} a sedan, an SUV or a compact?",
            "The rental car you booked {when}, what size was it?",
            "What kind of vehicle did I reserve {when}?",
        ),
        "pickup": (
            "Where do I pick up the car I rented {when}?",
            "What was the pickup location of the rental car I booked {when}?",
            "The car you reserved for me {when}, where do I collect it?",
            "Which place was the rental car pick-up, for the one I booked {when}?",
        ),
        "date": (
            "What day do I pick up the car I rented {when}?",
            "For which date did I reserve the rental car {when}?",
            "The car rental you booked me {when}, when does it start?",
            "On what date is the pickup for the car I rented {when}?",
        ),
        "time": (
            "What time is the pickup of the car I rented {when}?",
            "At what time do I collect the rental car I booked {when}?",
            "The car you reserved for me {when}, what time can I get it?",
            "When is the car rental I booked {when} ready, what time?",
        ),
        "price": (
            "How much was the car I rented {when}?",
            "What did the rental car I booked {when} cost?",
            "The car rental you booked {when}, what was the price?",
            "What price did I get on the car I reserved {when}?",
        ),
    },
    "ride": {
        "to": (
            "Where was the ride I booked {when} taking me?",
            "What was the destination of the cab I ordered {when}?",
            "The ride you got me {when}, where was it going?",
            "Where did I take a taxi to {when}?",
        ),
        "party": (
            "For how many people was the ride I booked {when}?",
            "How many seats did I ask for on the cab {when}?",
            "The ride you booked me {when}, how many riders was it for?",
            "How many of us were in the taxi I booked {when}?",
        ),
        "price": (
            "How much was the ride I booked {when}?",
            "What was the fare of the cab I took {when}?",
            "The ride you got me {when}, what did it cost?",
            "What did I pay for the taxi {when}?",
        ),
    },
    "appointment": {
        "provider": (
            "Who was my appointment with {when}?",
            "Which doctor, dentist or stylist did I book {when}?",
            "The appointment you made for me {when}, who was it with?",
            "Remind me of the name of the person I had an appointment with {when}.",
        ),
        "date": (
            "What day was the appointment I booked {when}?",
            "For which date did I make the appointment {when}?",
            "The appointment you booked me {when}, what date is it?",
            "On what day is the appointment I scheduled {when}?",
        ),
        "time": (
            "What time is the appointment I booked {when}?",
            "At what time was the appointment I made {when}?",
            "The appointment you scheduled for me {when}, what time was it?",
            "When is my appointment, the one I booked {when}, what time?",
        ),
        "address": (
            "What's the address of the appointment I booked {when}?",
            "Where is the place of the appointment I made {when}?",
            "Can you give me the street address for the appointment I booked {when}?",
            "On which street is the office of the appointment you booked {when}?",
        ),
        "phone": (
            "What's the phone number for the appointment I booked {when}?",
            "Can you give me the number of the office I made the appointment with {when}?",
            "I need to call about the appointment I booked {when}, what's their number?",
            "Do you have the contact number of the place you booked my appointment {when}?",
        ),
    },
    "transfer": {
        "amount": (
            "How much money did I send {when}?",
            "What was the amount of the transfer I made {when}?",
            "The payment you sent for me {when}, how much was it?",
            "How much did I transfer {when}?",
        ),
        "recipient": (
            "Who did I send money to {when}?",
            "Who received the transfer I made {when}?",
            "The payment you made for me {when}, who was it to?",
            "Remind me who I paid {when}.",
        ),
        "account": (
            "Which account did the money I sent {when} come from?",
            "What account did I transfer from {when}?",
            "The transfer you made {when}, was it from checking or savings?",
            "From which account or card did I pay {when}?",
        ),
    },
    "visit": {
        "property": (
            "Which property did I schedule a visit to {when}?",
            "What was the name of the place I booked a viewing at {when}?",
            "The apartment visit you set up {when}, which property was it?",
            "Remind me which building I arranged to see {when}.",
        ),
        "address": (
            "What's the address of the property I set up a visit to {when}?",
            "Where is the apartment I booked a viewing of {when}?",
            "Can you give me the address of the place I'm visiting, the one I scheduled {when}?",
            "On which street is the property you booked a visit for {when}?",
        ),
        "date": (
            "What day is the property visit I scheduled {when}?",
            "For which date did I book the apartment viewing {when}?",
            "The visit you set up for me {when}, what date is it?",
            "On what day do I see the property I booked {when}?",
        ),
        "phone": (
            "What's the phone number of the property I scheduled a visit to {when}?",
            "Can you give me the contact number for the apartment I booked a viewing of {when}?",
            "I need to call the place I arranged to visit {when}, what's their number?",
            "Do you have the number of the property you set up a visit for {when}?",
        ),
        "price": (
            "How much is the rent of the property I booked a visit to {when}?",
            "What was the price of the apartment I scheduled a viewing of {when}?",
            "The place you set up a visit for {when}, how much was it?",
            "What did the property I arranged to see {when} cost per month?",
        ),
    },
}

# --------------------------------------------------------------------------- selectors

# selector -> (family, phrases). {month} is a month name; {kind_did} is KINDS[kind]["did"].
SELECTORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "last": (
        "recent",
        ("last time", "the last time I called", "on my last call", "the last time", "most recently", "recently"),
    ),
    "first_call": (
        "ordinal",
        ("on my first call", "the first time I called", "when I first called you", "the very first time I called"),
    ),
    "second_call": ("ordinal", ("on my second call", "the second time I called", "when I called the second time")),
    "first_of_kind": ("ordinal", ("the first time I {kind_did}", "the first time", "the very first time")),
    "before_last": (
        "ordinal",
        (
            "the time before last",
            "the time before the last one",
            "the time before last time",
            "not last time, the time before",
        ),
    ),
    "month": ("time", ("when I called in {month}", "back in {month}", "in {month}", "when we spoke in {month}")),
    "ago": ("time", ("{ago}", "{ago}", "when I called {ago}", "when we talked {ago}")),
    "kind_only": ("kind", ("", "")),
}
SELECTOR_FAMILIES = ("recent", "ordinal", "time", "kind")

# How long ago, in days (inclusive ranges), and the phrases for it
AGO: tuple[tuple[int, int, tuple[str, ...]], ...] = (
    (5, 9, ("last week", "about a week ago")),
    (12, 17, ("two weeks ago", "a couple of weeks ago")),
    (19, 24, ("three weeks ago", "about three weeks ago")),
    (27, 36, ("about a month ago", "a month ago")),
    (55, 68, ("two months ago", "about two months ago")),
)
AGO_MARGIN_DAYS = 5  # no other call of the kind this close to the anchored one

# How often a value group is picked for a probe, relative to the others (names and references of
# what was booked are what callers ask for most; a party size or a city less often).
GROUP_WEIGHTS: dict[str, float] = {
    "restaurant": 3, "event": 3, "song": 3, "movie": 3, "time": 2, "date": 2, "address": 2, "phone": 2,
    "venue": 2, "artist": 1.5, "party": 1, "city": 1, "price": 1, "device": 1, "album": 1, "director": 1,
    "hotel": 3, "car": 2, "provider": 3, "property": 3, "amount": 3, "recipient": 3, "airline": 2, "to": 2,
    "from": 1.5, "station": 1.5, "pickup": 1.5, "car_type": 1, "class": 1, "account": 1,
}  # fmt: skip

# --------------------------------------------------------------------------- fillers

# A turn whose normalised words are all in this set (and at most FILLER_MAX_WORDS) is a filler or
# backchannel: it carries nothing a recall should return.
FILLER_WORDS = frozenset(
    [
        "mm",
        "hmm",
        "mhm",
        "mmhmm",
        "uh",
        "huh",
        "um",
        "uhm",
        "er",
        "okay",
        "ok",
        "k",
        "yes",
        "yeah",
        "yep",
        "yup",
        "sure",
        "right",
        "alright",
        "all",
        "got",
        "it",
        "go",
        "on",
        "thanks",
        "thank",
        "you",
        "very",
        "much",
        "so",
        "no",
        "nope",
        "bye",
        "goodbye",
        "great",
        "good",
        "cool",
        "perfect",
        "fine",
        "nice",
        "wonderful",
        "awesome",
        "that",
        "s",
        "is",
        "it",
        "will",
        "be",
        "have",
        "a",
        "day",
        "lovely",
        "excellent",
        "appreciate",
        "i",
        "see",
        "oh",
        "ah",
        "wow",
        "hi",
        "hello",
    ]
)
FILLER_MAX_WORDS = 8

# --------------------------------------------------------------------------- identity lines

ACCOUNT_ASKS = (
    "Before we start, could I have your account number or the e-mail on file?",
    "Can I get your account number, please?",
    "To pull up your account, what's the account number or e-mail address?",
    "Could you confirm your account number for me?",
)
ACCOUNT_ANSWERS = (
    "Sure, it's {account}.",
    "My account number is {account}.",
    "Yes, account number {account}.",
    "It's {account}, under {name}.",
)
EMAIL_ANSWERS = (
    "Sure, my e-mail is {email}.",
    "It's {email}.",
    "The e-mail on the account is {email}.",
    "You can find me under {email}.",
)
ACCOUNT_VOLUNTEERED = (
    "Hi, I'm calling from my {other} phone today, my account number is {account}.",
    "Hello, this is {name}, account {account}, I'm on a different phone.",
    "Hi, it's {name}. I'm not on my usual phone, the account number is {account}.",
)
EMAIL_VOLUNTEERED = (
    "Hi, I'm calling from my {other} phone today, my e-mail is {email}.",
    "Hello, this is {name}, I'm on another phone, my e-mail address is {email}.",
)
ACCOUNT_AT_END = (
    "Oh, and for your records, my account number is {account}.",
    "One more thing, my account number is {account}, in case you need it.",
)
EMAIL_AT_END = ("Oh, and for your records, my e-mail is {email}.",)
IDENTITY_ACKS = ("Thank you, I've got that.", "Thanks, noted.", "Thank you.", "Got it, thank you.")
OTHER_PHONES = ("work", "wife's", "husband's", "new", "office", "son's", "daughter's", "friend's")
SPOKEN_ACCOUNT_CUES = ("my account number is", "my account uh, number is", "account number", "the account is")

FIRST_NAMES = tuple(
    [
        "Maria",
        "James",
        "Aisha",
        "Tom",
        "Grace",
        "Omar",
        "Lena",
        "Ravi",
        "Sofia",
        "Daniel",
        "Hannah",
        "Marco",
        "Yuki",
        "Nora",
        "Peter",
        "Chloe",
        "Samuel",
        "Ines",
        "Felix",
        "Zara",
        "Ben",
        "Julia",
        "Kofi",
        "Elena",
        "Liam",
        "Mei",
        "Diego",
        "Freya",
        "Arjun",
        "Tessa",
    ]
)
LAST_NAMES = tuple(
    [
        "Lopez",
        "Chen",
        "Patel",
        "Becker",
        "Kim",
        "Haddad",
        "Novak",
        "Iyer",
        "Rossi",
        "Okafor",
        "Weiss",
        "Silva",
        "Tanaka",
        "Quinn",
        "Lindqvist",
        "Martin",
        "Adeyemi",
        "Duarte",
        "Wagner",
        "Ahmed",
        "Carter",
        "Moreau",
        "Mensah",
        "Petrova",
        "Walsh",
        "Wong",
        "Ramos",
        "Hansen",
        "Rao",
        "Brooks",
    ]
)
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example")
AREA_CODES = ("212", "312", "415", "617", "206", "512", "303", "404", "702", "818", "646", "213")

# --------------------------------------------------------------------------- voice variant

VOICE_FILLERS = ("uh", "um", "uh", "um", "you know", "like")
CALLER_BACKCHANNELS = ("Mm-hmm.", "Okay.", "Uh-huh.", "Yeah.", "Right.", "Mm-hmm, okay.")
AGENT_BACKCHANNELS = ("Mm-hmm, go on.", "Okay.", "Sure.", "Got it.", "Mm-hmm.", "Right, go on.")


def for_half(options: Sequence[str], half: str) -> tuple[str, ...]:
    """The wordings a half is asked with: the even-numbered ones for "tune" (and the full release's
    "more-tune" and "tune2"), the odd ones for "heldout" (and "more-heldout").

    A list of one wording (or of wordings that are all needed) is shared.
    """
    if len(options) < 2:
        return tuple(options)
    start = 1 if half in ("heldout", "more-heldout") else 0  # "tune2", a tuning half, is asked as "tune" is
    return tuple(options[start::2])
