"""Scenarios over the email app: counting a sender's emails, replying in a thread, labelling."""

from __future__ import annotations

from looprl.world.tasks import BaseView, TaskSpec, check, scenario
from looprl.world.tasks._snippets import header, norm, updates_of


def _inbox_senders(view: BaseView, min_count: int) -> list[str]:
    rows = view.all(
        "SELECT sender_email, COUNT(*) AS n FROM email_messages WHERE user_id = ? AND folder = 'inbox' GROUP BY sender_email HAVING n >= ? ORDER BY sender_email",
        (view.user_id, min_count),
    )
    return [r["sender_email"] for r in rows]


@scenario("email_count_from_sender", split="train", apps=("email",))
def email_count_from_sender(view: BaseView) -> list[TaskSpec]:
    """How many emails from address A are in my inbox? (one filtered, paginated list)"""
    specs = []
    for sender in view.rng.sample(_inbox_senders(view, 3), 3):
        count = view.scalar("SELECT COUNT(*) FROM email_messages WHERE user_id = ? AND folder = 'inbox' AND sender_email = ?", (view.user_id, sender))
        solution = header("email") + f"""\
emails = collect(apis.email.show_emails, access_token=email_token, folder="inbox", sender_email="{sender}")
apis.supervisor.complete_task(answer=len(emails))
"""
        specs.append(TaskSpec(instruction=f"How many emails from {sender} are in my inbox right now?", solution=solution, difficulty=1, answer=count))
    return specs


@scenario("email_reply_latest_from_contact", split="train", apps=("email", "phone"))
def email_reply_latest_from_contact(view: BaseView) -> list[TaskSpec]:
    """Reply to a contact's latest email (their address comes from the phone contacts)."""
    contacts = view.all(
        "SELECT c.first_name, c.last_name, c.email FROM phone_contacts c WHERE c.user_id = ? AND c.email IS NOT NULL AND "
        "EXISTS (SELECT 1 FROM email_messages m WHERE m.user_id = c.user_id AND m.folder = 'inbox' AND m.sender_email = c.email) ORDER BY c.id",
        (view.user_id,),
    )
    replies = ["Sounds good, see you then!", "Thanks, I'll take a look tonight.", "Count me in!"]
    specs = []
    for c, text in zip(view.rng.sample(contacts, 3), replies):
        name = f"{c['first_name']} {c['last_name']}"
        latest = view.one(
            "SELECT id, thread_id FROM email_messages WHERE user_id = ? AND folder = 'inbox' AND sender_email = ? ORDER BY sent_at DESC, id DESC LIMIT 1",
            (view.user_id, c["email"]),
        )
        solution = header("phone", "email") + f"""\
matches = apis.phone.search_contacts(access_token=phone_token, query="{name}")
contact = next(c for c in matches if c["first_name"] + " " + c["last_name"] == "{name}")
emails = apis.email.show_emails(access_token=email_token, folder="inbox", sender_email=contact["email"], sort_by="-sent_at", page_limit=1)
apis.email.reply_to_email(access_token=email_token, email_id=emails[0]["email_id"], body={text!r})
apis.supervisor.complete_task()
"""

        def checks(ctx, thread=latest["thread_id"], address=c["email"], text=text):
            sent = [r for r in ctx.diff.added.get("email_messages", []) if r["user_id"] == 1 and r["folder"] == "sent"]
            reply = sent[0] if len(sent) == 1 else None
            return [
                check("exactly one email was sent", len(sent) == 1, f"{len(sent)} emails sent"),
                check("it is a reply in the latest email's thread", reply is not None and reply["thread_id"] == thread, "not in the thread of the latest email from the contact"),
                check("it goes to the contact", reply is not None and reply["to_emails"].split(",") == [address], f"expected to {address}"),
                check("it says what was asked", reply is not None and norm(text) in norm(reply["body"]), f"body should contain {text!r}"),
            ]

        specs.append(
            TaskSpec(
                instruction=f'Reply to the latest email in my inbox from {name} with: "{text}"',
                solution=solution,
                difficulty=2,
                checks=checks,
                allowed_changes={"email_messages": lambda b, a: b is None and a is not None},
            )
        )
    return specs


@scenario("email_label_sender", split="dev", apps=("email",))
def email_label_sender(view: BaseView) -> list[TaskSpec]:
    """Create a label (if needed) and put it on every inbox email from a sender."""
    asks = [("billing@brightpower.example", "Electricity"), ("billing@aquaflow.example", "Water"), ("news@dailybrief.example", "Newsletters")]
    specs = []
    for sender, label in asks:
        ids = [r["id"] for r in view.all("SELECT id FROM email_messages WHERE user_id = ? AND folder = 'inbox' AND sender_email = ?", (view.user_id, sender))]
        if not ids:
            raise ValueError(f"email_label_sender: no inbox email from {sender} in the base world")
        solution = header("email") + f"""\
if not any(l["name"] == "{label}" for l in apis.email.show_labels(access_token=email_token)):
    apis.email.create_label(access_token=email_token, name="{label}")
for e in collect(apis.email.show_emails, access_token=email_token, folder="inbox", sender_email="{sender}"):
    if "{label}" not in e["labels"]:
        apis.email.add_email_label(access_token=email_token, email_id=e["email_id"], label="{label}")
apis.supervisor.complete_task()
"""

        def checks(ctx, ids=tuple(ids), label=label):
            rows = ctx.after_all(f"SELECT id, labels FROM email_messages WHERE id IN ({','.join('?' * len(ids))})", ids)
            missing = [r["id"] for r in rows if label not in r["labels"].split(",")]
            return [
                check("the label exists", ctx.after_one("SELECT id FROM email_labels WHERE user_id = 1 AND name = ?", (label,)) is not None, f"no label {label!r}"),
                check("every inbox email from the sender has the label", len(rows) == len(ids) and not missing, f"{len(missing)} email(s) without it"),
            ]

        specs.append(
            TaskSpec(
                instruction=f"Put the label '{label}' on every email in my inbox from {sender} (create the label if I don't have it).",
                solution=solution,
                difficulty=2,
                checks=checks,
                allowed_changes={"email_labels": lambda b, a: b is None and a is not None and a["user_id"] == 1, "email_messages": updates_of(ids, ("labels",))},
            )
        )
    return specs


@scenario("email_send_draft_to_contact", split="dev", apps=("email", "phone"))
def email_send_draft_to_contact(view: BaseView) -> list[TaskSpec]:
    """Address a saved draft to a contact (email from the phone contacts) and send it."""
    drafts = view.all("SELECT id, subject FROM email_messages WHERE user_id = ? AND folder = 'drafts' ORDER BY id", (view.user_id,))
    contacts = view.all(
        "SELECT first_name, last_name, email FROM phone_contacts c WHERE user_id = ? AND email IS NOT NULL AND "
        "(SELECT COUNT(*) FROM phone_contacts d WHERE d.user_id = c.user_id AND d.first_name || ' ' || d.last_name = c.first_name || ' ' || c.last_name) = 1 ORDER BY id",
        (view.user_id,),
    )
    if len(drafts) < 3:
        raise ValueError(f"email_send_draft_to_contact needs 3 drafts, the base world has {len(drafts)}")
    specs = []
    for draft, c in zip(drafts[:3], view.rng.sample(contacts, 3)):
        name = f"{c['first_name']} {c['last_name']}"
        solution = header("email", "phone") + f"""\
drafts = collect(apis.email.show_emails, access_token=email_token, folder="drafts")
draft = next(d for d in drafts if d["subject"] == {draft['subject']!r})
matches = apis.phone.search_contacts(access_token=phone_token, query="{name}")
contact = next(c for c in matches if c["first_name"] + " " + c["last_name"] == "{name}")
apis.email.update_draft(access_token=email_token, email_id=draft["email_id"], to_emails=[contact["email"]])
apis.email.send_draft(access_token=email_token, email_id=draft["email_id"])
apis.supervisor.complete_task()
"""

        def checks(ctx, draft_id=draft["id"], address=c["email"]):
            row = ctx.after_one("SELECT * FROM email_messages WHERE id = ?", (draft_id,))
            others = [r for r in _sent_copies(ctx) if r["id"] != draft_id]
            return [
                check("the draft was sent", row is not None and row["folder"] == "sent", "the draft is not in the sent folder"),
                check("it went only to the contact", row is not None and row["to_emails"] == address and not row["cc_emails"], f"expected only {address}"),
                check("nothing else was sent", not others, f"{len(others)} other email(s) sent"),
            ]

        specs.append(
            TaskSpec(
                instruction=f"Send my draft with the subject '{draft['subject']}' to {name} only (replace any recipients it has now).",
                solution=solution,
                difficulty=2,
                checks=checks,
                allowed_changes={"email_messages": lambda b, a, d=draft["id"]: (b is None and a is not None) or (b is not None and a is not None and b["id"] == d)},
            )
        )
    return specs


def _sent_copies(ctx) -> list[dict]:
    return [r for r in ctx.diff.added.get("email_messages", []) if r["user_id"] == 1 and r["folder"] == "sent"]
