"""Scenarios over the phone app: counting contacts, messages and voicemails, texting a contact,
creating and turning off alarms.

Every generator draws its parameters with ``view.rng`` from the instance's base world (the user's
contacts, conversations, voicemails and alarms differ between worlds) and words the instruction
through ``view.phrase``; an ask that the world cannot support is replaced by another one."""

from __future__ import annotations

import calendar
from datetime import timedelta
from typing import Any, Callable

from looprl.world.tasks import BaseView, TaskSpec, check, scenario
from looprl.world.tasks._snippets import header, inserts_by, norm

_FIND_CONTACT = """\
matches = apis.phone.search_contacts(access_token=phone_token, query="{name}")
contact = next(c for c in matches if c["first_name"] + " " + c["last_name"] == "{name}")
"""

_RELATIONSHIPS = ("friend", "family", "coworker", "roommate", "neighbor", "other")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = dict(zip(_DAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")))


def _texted_contacts(view: BaseView) -> list[dict]:
    """The user's contacts who have an account (so texts reach a person), with unambiguous full names."""
    rows = view.all(
        "SELECT c.* FROM phone_contacts c JOIN users u ON u.phone_number = c.phone_number WHERE c.user_id = ? ORDER BY c.id",
        (view.user_id,),
    )
    names = [f"{r['first_name']} {r['last_name']}" for r in rows]
    return [r for r, n in zip(rows, names) if sum(1 for m in names if n.lower() in m.lower()) == 1]


def _clock(hhmm: str) -> str:
    """A 24-hour "HH:MM" as people say it: "6:10 am", "10 pm", "noon", "12:30 pm"."""
    hour, minute = int(hhmm[:2]), int(hhmm[3:])
    if (hour, minute) == (12, 0):
        return "noon"
    suffix = "am" if hour < 12 else "pm"
    h12 = hour % 12 or 12
    return f"{h12} {suffix}" if minute == 0 else f"{h12}:{minute:02d} {suffix}"


def _day_list(days: list[str]) -> str:
    """["mon", "wed", "fri"] -> "Mondays, Wednesdays and Fridays"."""
    words = [_DAY_NAMES[d] + "s" for d in days]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@scenario("phone_count_relationship", split="train", apps=("phone",))
def phone_count_relationship(view: BaseView) -> TaskSpec:
    """How many contacts have relationship R (or one of two, or not R; R among favorites, R with a
    birthday in month M)? (relationship-filtered, paginated lists)"""
    uid = view.user_id
    contacts = view.all("SELECT relationship, favorite, birthday FROM phone_contacts WHERE user_id = ?", (uid,))
    while True:
        kind = view.rng.choice(["one", "two", "two", "not", "favorite", "birthday", "birthday", "birthday"])
        rel = view.rng.choice(_RELATIONSHIPS)
        params: dict[str, Any] = {"rel": rel}
        if kind == "one":
            answer = sum(c["relationship"] == rel for c in contacts)
            body = f'count = len(collect(apis.phone.show_contacts, access_token=phone_token, relationship="{rel}"))\n'
            templates = [
                "How many of my phone contacts are saved with the relationship '{rel}'?",
                "Count the contacts in my phone whose relationship is '{rel}'.",
                "How many '{rel}' contacts do I have on my phone?",
                "Tell me the number of my phone contacts marked as '{rel}'.",
            ]
        elif kind == "two":
            first, second = sorted(view.rng.sample(_RELATIONSHIPS, 2), key=_RELATIONSHIPS.index)
            answer = sum(c["relationship"] in (first, second) for c in contacts)
            body = (
                "count = 0\n"
                f'for rel in ("{first}", "{second}"):\n'
                "    count += len(collect(apis.phone.show_contacts, access_token=phone_token, relationship=rel))\n"
            )
            templates = [
                "How many of my phone contacts are saved with the relationship '{first}' or '{second}'?",
                "Count my phone contacts whose relationship is either '{first}' or '{second}'.",
                "Together, how many '{first}' and '{second}' contacts do I have on my phone?",
                "Tell me the total number of my phone contacts marked '{first}' plus those marked '{second}'.",
            ]
            params = {"first": first, "second": second}
        elif kind == "not":
            answer = sum(c["relationship"] != rel for c in contacts)
            body = (
                "count = 0\n"
                f"for rel in {[r for r in _RELATIONSHIPS if r != rel]!r}:\n"
                "    count += len(collect(apis.phone.show_contacts, access_token=phone_token, relationship=rel))\n"
            )
            templates = [
                "How many of my phone contacts have a relationship other than '{rel}'?",
                "Count the contacts in my phone that are not marked '{rel}'.",
                "Leaving out the '{rel}' ones, how many contacts do I have on my phone?",
                "Tell me how many of my phone contacts are saved with any relationship except '{rel}'.",
            ]
        elif kind == "favorite":
            answer = sum(c["relationship"] == rel and c["favorite"] for c in contacts)
            if answer == 0:
                continue  # no favorite with that relationship in this world: ask something else
            body = f'count = len(collect(apis.phone.show_contacts, access_token=phone_token, relationship="{rel}", favorite=True))\n'
            templates = [
                "How many of my favorite phone contacts are saved with the relationship '{rel}'?",
                "Count the contacts in my phone favorites whose relationship is '{rel}'.",
                "Among my favorite contacts, how many are marked '{rel}'?",
                "Tell me how many '{rel}' contacts I have among my phone favorites.",
            ]
        else:
            month = view.rng.randint(1, 12)
            answer = sum(c["relationship"] == rel and (c["birthday"] or "")[5:7] == f"{month:02d}" for c in contacts)
            if answer == 0:
                continue  # nobody with that relationship has a birthday that month: ask something else
            body = (
                f'contacts = collect(apis.phone.show_contacts, access_token=phone_token, relationship="{rel}")\n'
                f'count = sum(1 for c in contacts if c["birthday"] and c["birthday"][5:7] == "{month:02d}")\n'
            )
            templates = [
                "How many of my '{rel}' phone contacts have their birthday in {month}?",
                "Count the contacts saved with the relationship '{rel}' whose birthday falls in {month}.",
                "Among my phone contacts marked '{rel}', how many were born in {month}?",
                "Tell me how many '{rel}' contacts on my phone have a {month} birthday.",
            ]
            params["month"] = calendar.month_name[month]
        solution = header("phone") + body + "apis.supervisor.complete_task(answer=count)\n"
        return TaskSpec(instruction=view.phrase(templates, **params), solution=solution, difficulty=1, answer=answer)


@scenario("phone_count_messages_with", split="dev", apps=("phone",))
def phone_count_messages_with(view: BaseView) -> TaskSpec:
    """How many texts did I exchange with X (all, only sent, only received)? (find the number, then page through the conversation)"""
    uid = view.user_id
    counts = {
        r["other_phone_number"]: r
        for r in view.all(
            "SELECT other_phone_number, COUNT(*) AS n, SUM(direction = 'sent') AS sent, SUM(direction = 'received') AS received "
            "FROM phone_messages WHERE user_id = ? GROUP BY other_phone_number",
            (uid,),
        )
    }
    contacts = [c for c in _texted_contacts(view) if c["phone_number"] in counts and counts[c["phone_number"]]["n"] > 3]
    while True:
        c = view.rng.choice(contacts)
        direction = view.rng.choice([None, "sent", "received"])
        stats = counts[c["phone_number"]]
        answer = stats["n"] if direction is None else stats[direction]
        if answer == 0:
            continue  # nothing in that direction: draw again
        name = f"{c['first_name']} {c['last_name']}"
        direction_arg = f', direction="{direction}"' if direction else ""
        solution = (
            header("phone")
            + _FIND_CONTACT.format(name=name)
            + f"""\
messages = collect(apis.phone.show_text_messages, access_token=phone_token, phone_number=contact["phone_number"]{direction_arg})
apis.supervisor.complete_task(answer=len(messages))
"""
        )
        if direction is None:
            templates = [
                "How many text messages are there in my conversation with {name}, counting both the ones I sent and the ones I received?",
                "Count every text in my phone conversation with {name}, sent and received.",
                "How many texts have {name} and I exchanged in total (both directions)?",
                "Tell me the total number of text messages between me and {name}, in both directions.",
            ]
        elif direction == "sent":
            templates = [
                "How many text messages have I sent to {name}?",
                "Count the texts I sent to {name} (only the ones I sent, not the replies).",
                "In my conversation with {name}, how many of the messages did I send?",
                "Tell me how many texts I've written to {name} on my phone.",
            ]
        else:
            templates = [
                "How many text messages have I received from {name}?",
                "Count the texts {name} sent me (only the ones I received).",
                "In my conversation with {name}, how many of the messages came from them?",
                "Tell me how many texts {name} has sent to my phone.",
            ]
        return TaskSpec(instruction=view.phrase(templates, name=name), solution=solution, difficulty=1, answer=answer)


_TEXTS = [
    "Running 15 minutes late, start without me!",
    "Do you still want the concert ticket for Friday?",
    "Happy anniversary to you both!",
    "Can you call me when you're free?",
    "I left my umbrella at your place, can I grab it tomorrow?",
    "Dinner at 7 tonight still works for me.",
    "Congrats on the new job!",
    "Could you send me the photos from Saturday?",
    "The package arrived, thank you so much!",
    "Are you coming to the game on Sunday?",
    "Don't forget to bring the charger.",
    "I'm outside, come down when you're ready.",
    "Good luck with the interview today!",
    "Let's move our coffee to Thursday morning.",
    "Can you pick up bread on your way over?",
    "Safe travels, text me when you land!",
]


@scenario("phone_text_contact", split="train", apps=("phone",))
def phone_text_contact(view: BaseView) -> TaskSpec:
    """Text a named contact a given message."""
    c = view.rng.choice(_texted_contacts(view))
    text = view.rng.choice(_TEXTS)
    name = f"{c['first_name']} {c['last_name']}"
    number = c["phone_number"]
    solution = (
        header("phone")
        + _FIND_CONTACT.format(name=name)
        + f"""\
apis.phone.send_text_message(access_token=phone_token, phone_number=contact["phone_number"], message={text!r})
apis.supervisor.complete_task()
"""
    )

    def checks(ctx):
        sent = [r for r in ctx.diff.added.get("phone_messages", []) if r["user_id"] == 1 and r["direction"] == "sent"]
        to_them = [r for r in sent if r["other_phone_number"] == number]
        return [
            check(f"a text was sent to {name}", len(to_them) == 1, f"texts sent to {name}'s number: {len(to_them)}"),
            check("the text says what was asked", len(to_them) == 1 and norm(to_them[0]["content"]) == norm(text), f"expected {text!r}"),
            check("no other texts were sent", len(sent) == len(to_them), f"{len(sent) - len(to_them)} text(s) to other numbers"),
        ]

    instruction = view.phrase(
        [
            'Text {name}: "{text}"',
            'Send {name} a text message saying "{text}"',
            'Please message {name} on my phone: "{text}"',
            'Shoot {name} a text that reads "{text}"',
        ],
        name=name,
        text=text,
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=1,
        checks=checks,
        allowed_changes={"phone_messages": lambda b, a: b is None and a is not None},
    )


# Alarm labels with the hours (earliest, latest) at which such an alarm plausibly rings.
_ALARM_LABELS = [
    ("Swim", 5, 8),
    ("Lights out", 21, 23),
    ("Dentist", 8, 16),
    ("Yoga", 6, 19),
    ("Meds", 7, 22),
    ("Call mom", 10, 20),
    ("Team standup", 8, 10),
    ("Piano practice", 15, 19),
    ("Water the plants", 6, 20),
    ("Take out the trash", 18, 22),
    ("Bus to work", 6, 8),
    ("Soccer practice", 16, 18),
    ("Bedtime", 20, 23),
    ("Laundry", 9, 20),
    ("Stretch", 5, 21),
    ("Walk the dog", 6, 21),
]
_ALARM_MINUTES = (0, 10, 15, 20, 30, 40, 45, 50)


def _alarm_days(view: BaseView) -> tuple[list[str], str]:
    """Repeat days for a new alarm and how the instruction says them ("every weekday", "once, without repeating", ...)."""
    kind = view.rng.choice(["once", "weekdays", "weekends", "daily", "some", "some"])
    if kind == "once":
        return [], "once, without repeating"
    if kind == "weekdays":
        return list(_DAYS[:5]), "every weekday (Monday to Friday)"
    if kind == "weekends":
        return ["sat", "sun"], "on Saturdays and Sundays"
    if kind == "daily":
        return list(_DAYS), "every day of the week"
    picked = sorted(view.rng.sample(range(7), view.rng.randint(1, 3)))
    days = [_DAYS[i] for i in picked]
    return days, "every " + _DAY_NAMES[days[0]] if len(days) == 1 else "on " + _day_list(days)


@scenario("phone_create_alarm", split="train", apps=("phone",))
def phone_create_alarm(view: BaseView) -> TaskSpec:
    """Create an alarm with a time, label and repeat days."""
    existing = {(r["time"], r["label"]) for r in view.all("SELECT time, label FROM phone_alarms WHERE user_id = ?", (view.user_id,))}
    while True:
        label, earliest, latest = view.rng.choice(_ALARM_LABELS)
        time = f"{view.rng.randint(earliest, latest):02d}:{view.rng.choice(_ALARM_MINUTES):02d}"
        if (time, label) not in existing:  # the new alarm must not look like one already there
            break
    days, days_text = _alarm_days(view)
    solution = (
        header("phone")
        + f"""\
apis.phone.create_alarm(access_token=phone_token, time="{time}", label="{label}", repeat_days={days!r})
apis.supervisor.complete_task()
"""
    )

    def checks(ctx):
        added = ctx.diff.added.get("phone_alarms", [])
        alarm = added[0] if len(added) == 1 else None
        got_days = set(filter(None, alarm["repeat_days"].split(","))) if alarm else None
        return [
            check("exactly one new alarm", len(added) == 1, f"{len(added)} new alarms"),
            check("the alarm rings at the right time", alarm is not None and alarm["time"] == time, f"expected {time}"),
            check("the alarm has the label", alarm is not None and norm(alarm["label"]) == norm(label), f"expected label {label!r}"),
            check("the alarm repeats on the right days", alarm is not None and got_days == set(days), f"expected {days}, got {sorted(got_days or [])}"),
            check("the alarm is enabled", alarm is not None and bool(alarm["enabled"]), "the alarm is off"),
        ]

    instruction = view.phrase(
        [
            "Set an alarm at {time} labelled '{label}' that rings {days}.",
            "Please create a phone alarm for {time} called '{label}'; it should ring {days}.",
            "I need a '{label}' alarm at {time}, ringing {days}.",
            "Add an alarm named '{label}' for {time} that goes off {days}.",
        ],
        time=_clock(time),
        label=label,
        days=days_text,
    )
    return TaskSpec(instruction=instruction, solution=solution, difficulty=1, checks=checks, allowed_changes={"phone_alarms": inserts_by()})


_DURATIONS = {30: "30 seconds", 45: "45 seconds", 60: "one minute", 90: "a minute and a half", 120: "two minutes"}


def spoken_date(day: str) -> str:
    """An ISO date as the instruction says it: "2026-05-04" -> "May 4, 2026" (shopping's scenarios use it too)."""
    return f"{calendar.month_name[int(day[5:7])]} {int(day[8:])}, {day[:4]}"


@scenario("phone_count_voicemails", split="train", apps=("phone",))
def phone_count_voicemails(view: BaseView) -> TaskSpec:
    """Count voicemails (all, or only new ones) by a property: long, short, recent, from unknown or
    saved numbers, from a named contact (one paginated list, filtered by the agent)."""
    uid = view.user_id
    voicemails = view.all("SELECT * FROM phone_voicemails WHERE user_id = ? ORDER BY id", (uid,))
    names = {
        r["phone_number"]: f"{r['first_name']} {r['last_name']}"
        for r in view.all("SELECT phone_number, first_name, last_name FROM phone_contacts WHERE user_id = ?", (uid,))
    }
    callers = sorted({names[v["caller_phone_number"]] for v in voicemails if v["caller_phone_number"] in names})
    callers = [n for n in callers if list(names.values()).count(n) == 1]  # a name that is one contact only
    new_only = view.rng.random() < 0.5
    prop = view.rng.choice(["none", "longer", "shorter", "unknown", "known", "since", "since", "caller", "caller", "caller"])
    seconds = view.rng.choice(list(_DURATIONS))
    since = (view.now - timedelta(days=view.rng.randint(2, 60))).date().isoformat()
    caller = view.rng.choice(callers) if callers else None
    if prop == "caller" and caller is None:
        prop = "known"  # no saved contact left a voicemail in this world
    # (how the instruction says it, the test on a phone_voicemails row, the ground truth's test on a show_voicemails item v)
    which, test, condition = {
        "none": ("", lambda v: True, None),
        "longer": (f"longer than {_DURATIONS[seconds]}", lambda v: v["duration_seconds"] > seconds, f'v["duration_seconds"] > {seconds}'),
        "shorter": (f"shorter than {_DURATIONS[seconds]}", lambda v: v["duration_seconds"] < seconds, f'v["duration_seconds"] < {seconds}'),
        # caller_name is the contact's name when the number is saved
        "unknown": ("from numbers that are not saved in my contacts", lambda v: v["caller_phone_number"] not in names, 'v["caller_name"] is None'),
        "known": ("from numbers saved in my contacts", lambda v: v["caller_phone_number"] in names, 'v["caller_name"] is not None'),
        "since": (f"received on or after {spoken_date(since)}", lambda v: v["received_at"][:10] >= since, f'v["received_at"][:10] >= "{since}"'),
        "caller": (f"from {caller}", lambda v: names.get(v["caller_phone_number"]) == caller, f'v["caller_name"] == "{caller}"'),
    }[prop]
    if prop == "none":
        new_only = True  # the plain ask is how many are new
    answer = sum(1 for v in voicemails if test(v) and (not new_only or not v["listened"]))
    listened_arg = ", listened=False" if new_only else ""
    body = f"voicemails = collect(apis.phone.show_voicemails, access_token=phone_token{listened_arg})\n"
    body += "count = len(voicemails)\n" if condition is None else f"count = sum(1 for v in voicemails if {condition})\n"
    solution = header("phone") + body + "apis.supervisor.complete_task(answer=count)\n"
    if prop == "none":
        templates = [
            "How many voicemails haven't I listened to yet?",
            "Count my new voicemails, the ones I haven't listened to.",
            "How many unheard voicemails are waiting on my phone?",
            "Tell me the number of voicemails I still haven't played.",
        ]
    elif new_only:
        templates = [
            "How many voicemails {which} haven't I listened to yet?",
            "Count the unheard voicemails {which} on my phone.",
            "Of my voicemails {which}, how many have I not played yet?",
            "Tell me how many voicemails {which} are still unlistened.",
        ]
    else:
        templates = [
            "How many voicemails {which} do I have, listened or not?",
            "Count all the voicemails {which} on my phone, old and new.",
            "Tell me the total number of voicemails {which}, whether I listened to them or not.",
            "How many voicemails {which} are on my phone in total (heard and unheard)?",
        ]
    return TaskSpec(instruction=view.phrase(templates, which=which), solution=solution, difficulty=1, answer=answer)


_THRESHOLDS = ("06:00", "07:00", "07:30", "09:00", "10:00", "12:00", "13:00", "14:00", "16:00", "17:00", "18:00", "19:00", "20:00", "21:00", "22:00")


def _alarm_rule(view: BaseView) -> tuple[str, str, Callable[[dict[str, Any]], bool]]:
    """A rule picking some alarms: (how the instruction says them, the ground truth's condition on an
    alarm ``a`` from show_alarms, the same test on a phone_alarms row)."""
    kind = view.rng.choice(["before", "after", "day", "day", "weekend", "once", "day_before", "day_before", "day_after", "day_after"])
    t = view.rng.choice(_THRESHOLDS)
    d = view.rng.choice(_DAYS)

    def days(row) -> set[str]:
        return set(row["repeat_days"].split(",")) - {""}

    if kind == "before":
        return f"alarms that ring before {_clock(t)}", f'a["time"] < "{t}"', lambda r: r["time"] < t
    if kind == "after":
        return f"alarms that ring after {_clock(t)}", f'a["time"] > "{t}"', lambda r: r["time"] > t
    if kind == "day":
        return f"alarms that repeat on {_DAY_NAMES[d]}s", f'"{d}" in a["repeat_days"]', lambda r: d in days(r)
    if kind == "weekend":
        return "alarms that repeat on Saturday or Sunday", '{"sat", "sun"} & set(a["repeat_days"])', lambda r: bool({"sat", "sun"} & days(r))
    if kind == "once":
        return "one-time alarms (the ones that don't repeat)", 'not a["repeat_days"]', lambda r: not days(r)
    if kind == "day_before":
        return (
            f"alarms that repeat on {_DAY_NAMES[d]}s and ring before {_clock(t)}",
            f'"{d}" in a["repeat_days"] and a["time"] < "{t}"',
            lambda r: d in days(r) and r["time"] < t,
        )
    return (
        f"alarms that repeat on {_DAY_NAMES[d]}s and ring after {_clock(t)}",
        f'"{d}" in a["repeat_days"] and a["time"] > "{t}"',
        lambda r: d in days(r) and r["time"] > t,
    )


@scenario("phone_disable_alarms", split="train", apps=("phone",))
def phone_disable_alarms(view: BaseView) -> TaskSpec:
    """Turn off the alarms matching a rule (list, filter, act on each; already-off ones stay off)."""
    alarms = view.all("SELECT * FROM phone_alarms WHERE user_id = ? ORDER BY id", (view.user_id,))
    while True:
        what, condition, rule = _alarm_rule(view)
        targets = tuple(a["id"] for a in alarms if rule(a) and a["enabled"])
        if targets:
            break  # else no enabled alarm matches in this world: draw another rule
    solution = (
        header("phone")
        + f"""\
for a in collect(apis.phone.show_alarms, access_token=phone_token, enabled=True):
    if {condition}:
        apis.phone.disable_alarm(access_token=phone_token, alarm_id=a["alarm_id"])
apis.supervisor.complete_task()
"""
    )

    def checks(ctx):
        rows = ctx.after_all(f"SELECT id, enabled FROM phone_alarms WHERE id IN ({','.join('?' * len(targets))})", targets)
        still_on = [r["id"] for r in rows if r["enabled"]]
        return [
            check("every matching alarm is off", len(rows) == len(targets) and not still_on, f"still on or deleted: {len(targets) - len(rows) + len(still_on)}")
        ]

    instruction = view.phrase(
        [
            "Turn off all my {what}.",
            "Disable every one of my {what}.",
            "Please switch off my {what}; leave the other alarms as they are.",
            "I don't want my {what} going off anymore: turn them all off.",
        ],
        what=what,
    )
    allowed = frozenset(targets)
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        checks=checks,
        allowed_changes={"phone_alarms": lambda b, a: b is not None and a is not None and b["id"] in allowed and {k for k in b if b[k] != a[k]} <= {"enabled"}},
    )
