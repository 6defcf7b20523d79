"""Scenarios over the phone app: counting contacts and messages, texting a contact, setting alarms."""

from __future__ import annotations

from looprl.world.tasks import BaseView, TaskSpec, check, scenario
from looprl.world.tasks._snippets import header, inserts_by, norm

_FIND_CONTACT = """\
matches = apis.phone.search_contacts(access_token=phone_token, query="{name}")
contact = next(c for c in matches if c["first_name"] + " " + c["last_name"] == "{name}")
"""


def _texted_contacts(view: BaseView) -> list[dict]:
    """The user's contacts who have an account (so texts reach a person), with unambiguous full names."""
    rows = view.all(
        "SELECT c.* FROM phone_contacts c JOIN users u ON u.phone_number = c.phone_number WHERE c.user_id = ? ORDER BY c.id",
        (view.user_id,),
    )
    names = [f"{r['first_name']} {r['last_name']}" for r in rows]
    return [r for r, n in zip(rows, names) if sum(1 for m in names if n.lower() in m.lower()) == 1]


@scenario("phone_count_relationship", split="train", apps=("phone",))
def phone_count_relationship(view: BaseView) -> list[TaskSpec]:
    """How many contacts have relationship R? (one filtered, paginated list)"""
    specs = []
    for rel in ("coworker", "neighbor", "friend"):
        count = view.scalar("SELECT COUNT(*) FROM phone_contacts WHERE user_id = ? AND relationship = ?", (view.user_id, rel))
        solution = header("phone") + f"""\
contacts = collect(apis.phone.show_contacts, access_token=phone_token, relationship="{rel}")
apis.supervisor.complete_task(answer=len(contacts))
"""
        specs.append(TaskSpec(instruction=f"How many of my phone contacts are saved with the relationship '{rel}'?", solution=solution, difficulty=1, answer=count))
    return specs


@scenario("phone_count_messages_with", split="dev", apps=("phone",))
def phone_count_messages_with(view: BaseView) -> list[TaskSpec]:
    """How many texts did I exchange with X? (find the number, then page through the conversation)"""
    contacts = [
        c
        for c in _texted_contacts(view)
        if view.scalar("SELECT COUNT(*) FROM phone_messages WHERE user_id = ? AND other_phone_number = ?", (view.user_id, c["phone_number"])) > 3
    ]
    specs = []
    for c in view.rng.sample(contacts, 3):
        name = f"{c['first_name']} {c['last_name']}"
        count = view.scalar("SELECT COUNT(*) FROM phone_messages WHERE user_id = ? AND other_phone_number = ?", (view.user_id, c["phone_number"]))
        solution = header("phone") + _FIND_CONTACT.format(name=name) + """\
messages = collect(apis.phone.show_text_messages, access_token=phone_token, phone_number=contact["phone_number"])
apis.supervisor.complete_task(answer=len(messages))
"""
        specs.append(
            TaskSpec(
                instruction=f"How many text messages are there in my conversation with {name}, counting both the ones I sent and the ones I received?",
                solution=solution,
                difficulty=1,
                answer=count,
            )
        )
    return specs


@scenario("phone_text_contact", split="train", apps=("phone",))
def phone_text_contact(view: BaseView) -> list[TaskSpec]:
    """Text a named contact a given message."""
    texts = ["Running 15 minutes late, start without me!", "Do you still want the concert ticket for Friday?", "Happy anniversary to you both!"]
    specs = []
    for c, text in zip(view.rng.sample(_texted_contacts(view), 3), texts):
        name = f"{c['first_name']} {c['last_name']}"
        solution = header("phone") + _FIND_CONTACT.format(name=name) + f"""\
apis.phone.send_text_message(access_token=phone_token, phone_number=contact["phone_number"], message={text!r})
apis.supervisor.complete_task()
"""

        def checks(ctx, number=c["phone_number"], text=text, name=name):
            sent = [r for r in ctx.diff.added.get("phone_messages", []) if r["user_id"] == 1 and r["direction"] == "sent"]
            to_them = [r for r in sent if r["other_phone_number"] == number]
            return [
                check(f"a text was sent to {name}", len(to_them) == 1, f"texts sent to {name}'s number: {len(to_them)}"),
                check("the text says what was asked", len(to_them) == 1 and norm(to_them[0]["content"]) == norm(text), f"expected {text!r}"),
                check("no other texts were sent", len(sent) == len(to_them), f"{len(sent) - len(to_them)} text(s) to other numbers"),
            ]

        specs.append(
            TaskSpec(
                instruction=f'Text {name}: "{text}"',
                solution=solution,
                difficulty=1,
                checks=checks,
                allowed_changes={"phone_messages": lambda b, a: b is None and a is not None},
            )
        )
    return specs


@scenario("phone_create_alarm", split="train", apps=("phone",))
def phone_create_alarm(view: BaseView) -> list[TaskSpec]:
    """Create an alarm with a time, label and repeat days."""
    asks = [
        ("06:10", "Swim", ["mon", "wed", "fri"], "Set an alarm at 6:10 am labelled 'Swim' that repeats on Mondays, Wednesdays and Fridays."),
        ("22:00", "Lights out", ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "Set an alarm for 10 pm every day, labelled 'Lights out'."),
        ("07:45", "Dentist", [], "Set a one-time alarm at 7:45 am labelled 'Dentist'."),
    ]
    specs = []
    for time, label, days, instruction in asks:
        solution = header("phone") + f"""\
apis.phone.create_alarm(access_token=phone_token, time="{time}", label="{label}", repeat_days={days!r})
apis.supervisor.complete_task()
"""

        def checks(ctx, time=time, label=label, days=days):
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

        specs.append(TaskSpec(instruction=instruction, solution=solution, difficulty=1, checks=checks, allowed_changes={"phone_alarms": inserts_by()}))
    return specs


@scenario("phone_count_voicemails", split="train", apps=("phone",))
def phone_count_voicemails(view: BaseView) -> list[TaskSpec]:
    """Count voicemails by a property: new, long, or from unknown numbers (one paginated list)."""
    uid = view.user_id
    asks = [
        (
            "How many voicemails haven't I listened to yet?",
            "SELECT COUNT(*) FROM phone_voicemails WHERE user_id = ? AND listened = 0",
            "count = len(collect(apis.phone.show_voicemails, access_token=phone_token, listened=False))\n",
        ),
        (
            "How many of my voicemails are longer than one minute?",
            "SELECT COUNT(*) FROM phone_voicemails WHERE user_id = ? AND duration_seconds > 60",
            "voicemails = collect(apis.phone.show_voicemails, access_token=phone_token)\n"
            'count = sum(1 for v in voicemails if v["duration_seconds"] > 60)\n',
        ),
        (
            "How many of my voicemails are from numbers that are not saved in my contacts?",
            "SELECT COUNT(*) FROM phone_voicemails v WHERE v.user_id = ? AND v.caller_phone_number NOT IN "
            "(SELECT phone_number FROM phone_contacts WHERE user_id = v.user_id)",
            "voicemails = collect(apis.phone.show_voicemails, access_token=phone_token)\n"
            'count = sum(1 for v in voicemails if v["caller_name"] is None)  # caller_name is the contact name, if saved\n',
        ),
    ]
    specs = []
    for instruction, sql, body in asks:
        solution = header("phone") + body + "apis.supervisor.complete_task(answer=count)\n"
        specs.append(TaskSpec(instruction=instruction, solution=solution, difficulty=1, answer=view.scalar(sql, (uid,))))
    return specs


@scenario("phone_disable_alarms", split="train", apps=("phone",))
def phone_disable_alarms(view: BaseView) -> list[TaskSpec]:
    """Turn off the alarms matching a rule (list, filter, act on each; already-off ones stay off)."""
    alarms = view.all("SELECT * FROM phone_alarms WHERE user_id = ? ORDER BY id", (view.user_id,))
    asks = [
        ("Turn off all my alarms that ring before 7 am.", lambda a: a["time"] < "07:00", 'a["time"] < "07:00"'),
        ("Turn off every alarm of mine that repeats on Saturday or Sunday.", lambda a: bool({"sat", "sun"} & set(a["repeat_days"].split(","))), '{"sat", "sun"} & set(a["repeat_days"])'),
        ("Turn off all my one-time alarms (the ones that don't repeat).", lambda a: a["repeat_days"] == "", 'not a["repeat_days"]'),
    ]
    specs = []
    for instruction, rule, condition in asks:
        targets = tuple(a["id"] for a in alarms if rule(a) and a["enabled"])
        if not targets:
            raise ValueError(f"phone_disable_alarms: no enabled alarm matches {instruction!r}")
        solution = header("phone") + f"""\
for a in collect(apis.phone.show_alarms, access_token=phone_token, enabled=True):
    if {condition}:
        apis.phone.disable_alarm(access_token=phone_token, alarm_id=a["alarm_id"])
apis.supervisor.complete_task()
"""

        def checks(ctx, targets=targets):
            rows = ctx.after_all(f"SELECT id, enabled FROM phone_alarms WHERE id IN ({','.join('?' * len(targets))})", targets)
            still_on = [r["id"] for r in rows if r["enabled"]]
            return [check("every matching alarm is off", len(rows) == len(targets) and not still_on, f"still on or deleted: {len(targets) - len(rows) + len(still_on)}")]

        specs.append(
            TaskSpec(
                instruction=instruction,
                solution=solution,
                difficulty=2,
                checks=checks,
                allowed_changes={"phone_alarms": lambda b, a, t=frozenset(targets): b is not None and a is not None and b["id"] in t and {k for k in b if b[k] != a[k]} <= {"enabled"}},
            )
        )
    return specs
