"""FAQ retrieval over a realistic dental clinic FAQ in English and Russian: paraphrases find the
right entry with confidence, off-topic talk stays below the threshold."""

from __future__ import annotations

import pytest

from brain.knowledge import FaqEntry, FaqHit, FaqIndex

EN = [
    FaqEntry(
        "What are your opening hours?",
        "We're open Monday to Friday from 9 am to 7 pm, and Saturday from 10 am to 3 pm. "
        "We're closed on Sundays.",
        ("When are you open?", "What time do you open?", "What time do you close?",
         "Are you open on weekends?"),
        ("hours", "open", "closed", "saturday", "sunday", "weekend"),
    ),
    FaqEntry(
        "Where are you located?",
        "We're at 12 Baker Street, on the second floor, next to the pharmacy.",
        ("What is your address?", "How do I get to the clinic?", "Where is your office?"),
        ("address", "location", "directions", "street"),
    ),
    FaqEntry(
        "Is there parking?",
        "Yes, patients park for free in the lot behind the building.",
        ("Where can I park?", "Can I leave my car near the clinic?"),
        ("parking", "car", "park", "lot"),
    ),
    FaqEntry(
        "How much does a teeth cleaning cost?",
        "A professional cleaning costs 90 dollars and takes about 45 minutes.",
        ("What is the price of a cleaning?", "How much is a hygiene visit?"),
        ("price", "cost", "cleaning", "hygiene", "fee"),
    ),
    FaqEntry(
        "Do you accept insurance?",
        "Yes, we work with most major dental insurance plans; bring your card to the visit.",
        ("Which insurance plans do you take?", "Is my dental plan covered?"),
        ("insurance", "coverage", "covered", "plan"),
    ),
    FaqEntry(
        "How can I book an appointment?",
        "I can take your name and number, and the front desk will call you back to confirm "
        "a time.",
        ("I want to make an appointment.", "Can I schedule a visit?",
         "I need to see a dentist."),
        ("book", "appointment", "schedule", "booking"),
    ),
    FaqEntry(
        "What should I do in a dental emergency?",
        "If you are in pain, come in today: we keep time free every morning for emergencies.",
        ("I have a toothache.", "My tooth is broken.", "Do you see emergency patients?"),
        ("emergency", "pain", "urgent", "toothache", "hurts", "swelling", "broken"),
    ),
    FaqEntry(
        "What payment methods do you accept?",
        "We accept cash, all major credit cards, and monthly installments for larger treatments.",
        ("Can I pay by card?", "Do you take cash?"),
        ("pay", "payment", "card", "cash", "installments"),
    ),
    FaqEntry(
        "Do you treat children?",
        "Yes, Dr. Lee sees children from three years old.",
        ("Do you see kids?", "Is there a pediatric dentist?"),
        ("children", "kids", "child", "son", "daughter", "pediatric"),
    ),
    FaqEntry(
        "How do I cancel or reschedule an appointment?",
        "Please call at least 24 hours ahead; I can pass your request to the front desk.",
        ("I need to change my appointment.", "Can I move my visit?"),
        ("cancel", "reschedule", "change", "move"),
    ),
    FaqEntry(
        "Do you do teeth whitening?",
        "Yes, in-office whitening takes one visit and costs 300 dollars.",
        ("Can you make my teeth whiter?",),
        ("whitening", "bleaching", "whiter"),
    ),
]

RU = [
    FaqEntry(
        "Какой у вас график работы?",
        "Мы работаем с понедельника по пятницу с 9 до 19, в субботу с 10 до 15. "
        "В воскресенье выходной.",
        ("Когда вы работаете?", "Во сколько вы открываетесь?", "До скольки вы работаете?",
         "Вы работаете в выходные?"),
        ("часы работы", "режим работы", "суббота", "воскресенье", "открыты"),
        language="ru",
    ),
    FaqEntry(
        "Где вы находитесь?",
        "Мы на улице Ленина, дом 12, второй этаж, рядом с аптекой. От метро пять минут пешком.",
        ("Какой у вас адрес?", "Как до вас добраться?"),
        ("адрес", "метро", "улица", "доехать"),
        language="ru",
    ),
    FaqEntry(
        "Есть ли у вас парковка?",
        "Да, для пациентов есть бесплатная парковка во дворе.",
        ("Где можно оставить машину?",),
        ("парковка", "машина", "стоянка", "припарковаться"),
        language="ru",
    ),
    FaqEntry(
        "Сколько стоит профессиональная чистка зубов?",
        "Профессиональная гигиена стоит 5000 рублей и занимает около часа.",
        ("Какая цена на чистку зубов?",),
        ("цена", "стоимость", "чистка", "гигиена", "прайс"),
        language="ru",
    ),
    FaqEntry(
        "Вы работаете по ДМС?",
        "Да, мы принимаем полисы ДМС основных страховых компаний.",
        ("Принимаете ли вы страховку?",),
        ("страховка", "ДМС", "полис", "страховая"),
        language="ru",
    ),
    FaqEntry(
        "Как записаться на приём?",
        "Я запишу ваше имя и телефон, и администратор перезвонит, чтобы подтвердить время.",
        ("Хочу записаться к стоматологу.", "Можно записаться на завтра?"),
        ("запись", "записаться", "приём", "визит"),
        language="ru",
    ),
    FaqEntry(
        "У меня болит зуб, что делать?",
        "Приходите сегодня: каждое утро мы оставляем время для острой боли.",
        ("Вы принимаете срочных пациентов?", "Сломался зуб."),
        ("боль", "болит", "срочно", "флюс", "сломался"),
        language="ru",
    ),
    FaqEntry(
        "Какие способы оплаты вы принимаете?",
        "Можно оплатить наличными, картой или в рассрочку.",
        ("Можно оплатить картой?", "Можно ли платить наличными?"),
        ("оплата", "карта", "наличные", "рассрочка"),
        language="ru",
    ),
    FaqEntry(
        "Вы лечите детей?",
        "Да, детский стоматолог принимает детей с трёх лет.",
        ("Есть ли детский стоматолог?",),
        ("дети", "ребёнок", "детский", "сын", "дочь"),
        language="ru",
    ),
    FaqEntry(
        "Как отменить или перенести запись?",
        "Пожалуйста, предупредите за сутки; я передам вашу просьбу администратору.",
        ("Мне нужно перенести приём.",),
        ("отмена", "отменить", "перенести"),
        language="ru",
    ),
]

FAQ = EN + RU

# Paraphrases as callers say them, some the way Whisper writes them (case, punctuation, digits),
# with the canonical question of the entry that answers each.
PARAPHRASES = [
    ("when do you open", EN[0]),
    ("What time are you open tomorrow?", EN[0]),
    ("are you open on saturday", EN[0]),
    ("what time do you guys close today", EN[0]),
    ("Are you open Sundays?", EN[0]),
    ("what's your address", EN[1]),
    ("Where is the clinic?", EN[1]),
    ("how do i get to your office", EN[1]),
    ("can I park my car there", EN[2]),
    ("is parking available", EN[2]),
    ("how much is a cleaning", EN[3]),
    ("What does teeth cleaning cost?", EN[3]),
    ("do you take my insurance", EN[4]),
    ("I'd like to book an appointment.", EN[5]),
    ("can i make an appointment for next week", EN[5]),
    ("uh my tooth really hurts", EN[6]),
    ("can i pay with a credit card", EN[7]),
    ("Do you accept cash?", EN[7]),
    ("do you treat kids", EN[8]),
    ("I need to cancel my appointment", EN[9]),
    ("can I reschedule my visit", EN[9]),
    ("во сколько вы работаете", RU[0]),
    ("Когда вы открыты?", RU[0]),
    ("вы работаете в субботу", RU[0]),
    ("до скольки вы сегодня работаете", RU[0]),
    ("а где вы находитесь", RU[1]),
    ("какой адрес клиники", RU[1]),
    ("как до вас доехать от метро", RU[1]),
    ("можно у вас поставить машину", RU[2]),
    ("сколько стоит чистка", RU[3]),
    ("Какая стоимость гигиены?", RU[3]),
    ("вы принимаете ДМС", RU[4]),
    ("хочу записаться на прием", RU[5]),
    ("очень болит зуб", RU[6]),
    ("можно картой оплатить", RU[7]),
    ("детей лечите?", RU[8]),
    ("мне надо отменить запись", RU[9]),
]

OFF_TOPIC = [
    "what's the weather",
    "what's the weather like today",
    "tell me a joke",
    "how are you",
    "who won the football game last night",
    "What is the capital of France?",
    "can you recommend a good restaurant",
    "как дела",
    "какая сегодня погода",
    "расскажи анекдот",
    "кто вчера выиграл матч",
    "сколько будет два плюс два",
    # share a word with an entry ("time", "машина", "where")
    "what time is it",
    "where do you live",
    "who are you",
    "what is your name",
    "который час",
    "ты робот",
    "мне нужно купить машину",
]


@pytest.fixture(scope="module")
def index() -> FaqIndex:
    return FaqIndex(FAQ)


def test_paraphrases_find_their_entry(index: FaqIndex) -> None:
    top1 = cleared = 0
    misses = []
    for query, expected in PARAPHRASES:
        hits = index.search(query)
        if hits and hits[0].entry == expected:
            top1 += 1
            cleared += hits[0].confidence >= 0.5
        else:
            misses.append((query, hits[0].entry.question if hits else None))
    accuracy = top1 / len(PARAPHRASES)
    assert accuracy >= 0.9, misses
    assert cleared / len(PARAPHRASES) >= 0.9, misses


def test_off_topic_stays_below_threshold(index: FaqIndex) -> None:
    above = {query: hits[0] for query in OFF_TOPIC if (hits := index.search(query))
             and hits[0].confidence >= 0.5}
    assert above == {}
    assert all(index.best(query) is None for query in OFF_TOPIC)


@pytest.mark.parametrize("query", ["when do you open", "what time are you open tomorrow",
                                   "во сколько вы работаете"])
def test_hours_paraphrases_from_the_brief(index: FaqIndex, query: str) -> None:
    hit = index.best(query)
    assert hit is not None
    assert hit.entry in (EN[0], RU[0])
    assert 0.5 <= hit.confidence <= 1.0


def test_best_returns_the_exact_answer(index: FaqIndex) -> None:
    hit = index.best("Do you take credit cards?")
    assert isinstance(hit, FaqHit)
    assert hit.entry.answer == EN[7].answer
    assert hit.score > 0


def test_language_filter(index: FaqIndex) -> None:
    assert all(hit.entry.language == "ru" for hit in index.search("парковка", language="ru"))
    assert index.search("парковка", language="en") == []
    assert index.search("parking", language="ru") == []
    assert index.best("parking", language="en").entry == EN[2]


def test_search_orders_and_limits(index: FaqIndex) -> None:
    hits = index.search("appointment", limit=5)
    assert 1 <= len(hits) <= 5
    assert hits[0].entry in (EN[5], EN[9])
    confidences = [hit.confidence for hit in hits]
    assert confidences == sorted(confidences, reverse=True)
    assert len(index.search("appointment", limit=1)) == 1


def test_nothing_matches_gives_empty_list(index: FaqIndex) -> None:
    assert index.search("zebra xylophone") == []
    assert index.search("") == []
    assert index.search("the and of") == []  # only stop words
    assert index.best("zebra") is None


def test_yo_and_ye_are_the_same_letter() -> None:
    index = FaqIndex([
        FaqEntry("Где взять ёлку?", "На складе.", language="ru"),
        FaqEntry("Где купить зубную щётку?", "В аптеке.", language="ru"),
    ])
    assert index.best("где взять елку").entry.answer == "На складе."
    assert index.best("ЩЕТКУ где купить").entry.answer == "В аптеке."


def test_answer_text_counts_less_than_the_question() -> None:
    index = FaqIndex([
        FaqEntry("Do you sell gift cards?", "Yes, at the front desk, next to the pharmacy."),
        FaqEntry("Is there a pharmacy nearby?", "Yes, on the ground floor."),
    ])
    hits = index.search("pharmacy")
    assert [hit.entry.question for hit in hits] == ["Is there a pharmacy nearby?",
                                                    "Do you sell gift cards?"]
    assert hits[0].confidence > hits[1].confidence


def test_empty_index_finds_nothing() -> None:
    assert FaqIndex([]).search("hours") == []
    assert FaqIndex([]).best("hours") is None
