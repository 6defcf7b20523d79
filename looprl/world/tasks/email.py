"""Scenarios over the email app: counting a sender's emails, replying in a thread, labelling,
sending a draft.

Senders, contacts, drafts, labels and reply texts are drawn with the instance's RNG from its base
world (every world has other friends, other mail and other drafts' recipients); contacts are named
by a full name no other contact of the user has, and ground truths look them up through the phone
app by that name.
"""

from __future__ import annotations

from looprl.world.tasks import BaseView, TaskSpec, check, scenario
from looprl.world.tasks._snippets import header, norm, updates_of

_FIND_CONTACT = """\
matches = collect(apis.phone.search_contacts, access_token=phone_token, query="{name}")
contact = next(c for c in matches if c["first_name"] + " " + c["last_name"] == "{name}")
"""


def folder_senders(view: BaseView, folder: str) -> list[dict]:
    """[{sender_email, n}]: who sent the user's emails in a folder, and how many."""
    return view.all(
        "SELECT sender_email, COUNT(*) AS n FROM email_messages WHERE user_id = ? AND folder = ? GROUP BY sender_email ORDER BY sender_email",
        (view.user_id, folder),
    )


def named_contacts(view: BaseView) -> list[dict]:
    """The user's phone contacts with an email address and a full name no other contact has."""
    return view.all(
        "SELECT first_name || ' ' || last_name AS name, email FROM phone_contacts c WHERE user_id = ? AND email IS NOT NULL AND "
        "(SELECT COUNT(*) FROM phone_contacts d WHERE d.user_id = c.user_id AND d.first_name = c.first_name AND d.last_name = c.last_name) = 1 "
        "ORDER BY id",
        (view.user_id,),
    )


def sent_copies(ctx) -> list[dict]:
    """The user's emails the episode sent (new rows in their sent folder)."""
    return [r for r in ctx.diff.added.get("email_messages", []) if r["user_id"] == 1 and r["folder"] == "sent"]


@scenario("email_count_from_sender", split="train", apps=("email",))
def email_count_from_sender(view: BaseView) -> TaskSpec:
    """How many emails from address A are in my inbox (or archive)? (one filtered, paginated list)"""
    rng = view.rng
    folder = "inbox" if rng.random() < 0.7 else "archive"
    row = rng.choice(folder_senders(view, folder))  # every base world has mail in both folders
    sender, count = row["sender_email"], row["n"]
    solution = (
        header("email")
        + f"""\
emails = collect(apis.email.show_emails, access_token=email_token, folder="{folder}", sender_email="{sender}")
apis.supervisor.complete_task(answer=len(emails))
"""
    )
    instruction = view.phrase(
        [
            "How many emails from {sender} are in my {folder} right now?",
            "Count the emails in my {folder} folder that were sent by {sender}.",
            "What's the number of messages from {sender} sitting in my email {folder}?",
            "Tell me how many emails {sender} has sent me that are now in my {folder}.",
        ],
        sender=sender,
        folder=folder,
    )
    return TaskSpec(instruction=instruction, solution=solution, difficulty=1, answer=count)


_REPLIES = [
    "Sounds good, see you then!",
    "Thanks, I'll take a look tonight.",
    "Count me in!",
    "Thanks for letting me know.",
    "Got it, I'll get back to you tomorrow.",
    "Great, thank you so much!",
    "Sorry, I can't make it this time.",
    "Perfect, that works for me.",
    "Let me check and I'll confirm by Friday.",
    "Thanks! Talk soon.",
]


@scenario("email_reply_latest_from_contact", split="train", apps=("email", "phone"))
def email_reply_latest_from_contact(view: BaseView) -> TaskSpec:
    """Reply to a contact's latest email (their address comes from the phone contacts)."""
    rng = view.rng
    inbox = {r["sender_email"] for r in folder_senders(view, "inbox")}
    c = rng.choice([c for c in named_contacts(view) if c["email"] in inbox])  # every world has 20+ of them
    name, text = c["name"], rng.choice(_REPLIES)
    thread = view.scalar(
        "SELECT thread_id FROM email_messages WHERE user_id = ? AND folder = 'inbox' AND sender_email = ? ORDER BY sent_at DESC, id DESC LIMIT 1",
        (view.user_id, c["email"]),
    )
    solution = (
        header("phone", "email")
        + _FIND_CONTACT.format(name=name)
        + f"""\
emails = apis.email.show_emails(access_token=email_token, folder="inbox", sender_email=contact["email"], sort_by="-sent_at", page_limit=1)
apis.email.reply_to_email(access_token=email_token, email_id=emails[0]["email_id"], body={text!r})
apis.supervisor.complete_task()
"""
    )

    def checks(ctx):
        sent = sent_copies(ctx)
        reply = sent[0] if len(sent) == 1 else None
        return [
            check("exactly one email was sent", len(sent) == 1, f"{len(sent)} emails sent"),
            check(
                "it is a reply in the latest email's thread",
                reply is not None and reply["thread_id"] == thread,
                "not in the thread of the latest email from the contact",
            ),
            check("it goes to the contact", reply is not None and reply["to_emails"].split(",") == [c["email"]], f"expected to {c['email']}"),
            check("it says what was asked", reply is not None and norm(text) in norm(reply["body"]), f"body should contain {text!r}"),
        ]

    instruction = view.phrase(
        [
            'Reply to the latest email in my inbox from {name} with: "{text}"',
            'Answer {name}\'s most recent email in my inbox by replying "{text}"',
            'Find the newest email {name} sent me (in my inbox) and reply to it saying "{text}"',
            'Send a reply to the last message from {name} in my inbox. The reply should say: "{text}"',
        ],
        name=name,
        text=text,
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        checks=checks,
        allowed_changes={"email_messages": lambda b, a: b is None and a is not None},
    )


# Labels to file a sender's mail under, per service sender and for people; a label the user already
# has is only asked for when some of the sender's inbox emails lack it.
_SERVICE_LABELS = {
    "billing@brightpower.example": ["Electricity", "Utilities", "Bills"],
    "billing@aquaflow.example": ["Water", "Utilities", "Bills"],
    "orders@shopnest.example": ["Orders", "Shopping", "Receipts"],
    "news@dailybrief.example": ["Newsletters", "News"],
    "no-reply@skyway.example": ["Flights", "Trips", "Travel"],
    "team@fitpulse.example": ["Fitness", "Health"],
}
_PEOPLE_LABELS = ["Follow up", "Important", "Keep", "Friends", "Personal", "To answer", "Family", "Work"]


@scenario("email_label_sender", split="dev", apps=("email",))
def email_label_sender(view: BaseView) -> TaskSpec:
    """Create a label (if needed) and put it on every inbox email from a sender."""
    rng = view.rng
    sender = rng.choice(folder_senders(view, "inbox"))["sender_email"]
    rows = view.all("SELECT id, labels FROM email_messages WHERE user_id = ? AND folder = 'inbox' AND sender_email = ? ORDER BY id", (view.user_id, sender))
    ids = [r["id"] for r in rows]
    mine = {r["name"] for r in view.all("SELECT name FROM email_labels WHERE user_id = ?", (view.user_id,))}
    labels = [name for name in _SERVICE_LABELS.get(sender, _PEOPLE_LABELS) if name not in mine or any(name not in r["labels"].split(",") for r in rows)]
    if not labels:  # the sender's mail already carries every label that fits it: file it under a new one
        labels = [name for name in _PEOPLE_LABELS if name not in mine]
    label = rng.choice(labels)
    solution = (
        header("email")
        + f"""\
if not any(l["name"] == "{label}" for l in apis.email.show_labels(access_token=email_token)):
    apis.email.create_label(access_token=email_token, name="{label}")
for e in collect(apis.email.show_emails, access_token=email_token, folder="inbox", sender_email="{sender}"):
    if "{label}" not in e["labels"]:
        apis.email.add_email_label(access_token=email_token, email_id=e["email_id"], label="{label}")
apis.supervisor.complete_task()
"""
    )

    def checks(ctx):
        after = ctx.after_all(f"SELECT id, labels FROM email_messages WHERE id IN ({','.join('?' * len(ids))})", tuple(ids))
        missing = [r["id"] for r in after if label not in r["labels"].split(",")]
        return [
            check("the label exists", ctx.after_one("SELECT id FROM email_labels WHERE user_id = 1 AND name = ?", (label,)) is not None, f"no label {label!r}"),
            check("every inbox email from the sender has the label", len(after) == len(ids) and not missing, f"{len(missing)} email(s) without it"),
        ]

    instruction = view.phrase(
        [
            "Put the label '{label}' on every email in my inbox from {sender} (create the label if I don't have it).",
            "Label all the emails from {sender} in my inbox as '{label}'. Make the label first if it doesn't exist yet.",
            "I want every message {sender} sent to my inbox tagged with the label '{label}'; create that label if needed.",
            "Go through my inbox and add the '{label}' label to each email from {sender} (if there is no such label, create it).",
        ],
        label=label,
        sender=sender,
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        checks=checks,
        allowed_changes={"email_labels": lambda b, a: b is None and a is not None and a["user_id"] == 1, "email_messages": updates_of(ids, ("labels",))},
    )


@scenario("email_send_draft_to_contact", split="dev", apps=("email", "phone"))
def email_send_draft_to_contact(view: BaseView) -> TaskSpec:
    """Address a saved draft to a contact (email from the phone contacts) and send it."""
    rng = view.rng
    drafts = view.all("SELECT id, subject, to_emails FROM email_messages WHERE user_id = ? AND folder = 'drafts' ORDER BY id", (view.user_id,))
    draft = rng.choice([d for d in drafts if sum(x["subject"] == d["subject"] for x in drafts) == 1])  # every world has 3 distinct drafts
    c = rng.choice([c for c in named_contacts(view) if c["email"] != draft["to_emails"]])
    name, draft_id = c["name"], draft["id"]
    solution = (
        header("email", "phone")
        + f"""\
drafts = collect(apis.email.show_emails, access_token=email_token, folder="drafts")
draft = next(d for d in drafts if d["subject"] == {draft["subject"]!r})
"""
        + _FIND_CONTACT.format(name=name)
        + """\
apis.email.update_draft(access_token=email_token, email_id=draft["email_id"], to_emails=[contact["email"]])
apis.email.send_draft(access_token=email_token, email_id=draft["email_id"])
apis.supervisor.complete_task()
"""
    )

    def checks(ctx):
        row = ctx.after_one("SELECT * FROM email_messages WHERE id = ?", (draft_id,))
        others = [r for r in sent_copies(ctx) if r["id"] != draft_id]
        return [
            check("the draft was sent", row is not None and row["folder"] == "sent", "the draft is not in the sent folder"),
            check("it went only to the contact", row is not None and row["to_emails"] == c["email"] and not row["cc_emails"], f"expected only {c['email']}"),
            check("nothing else was sent", not others, f"{len(others)} other email(s) sent"),
        ]

    instruction = view.phrase(
        [
            "Send my draft with the subject '{subject}' to {name} only (replace any recipients it has now).",
            "Address my '{subject}' draft to {name}, and nobody else, then send it.",
            "I have a draft called '{subject}'. Make {name} its only recipient and send it off.",
            "Please send the draft email '{subject}' to {name}; whoever it is addressed to now should be replaced by {name}.",
        ],
        subject=draft["subject"],
        name=name,
    )
    return TaskSpec(
        instruction=instruction,
        solution=solution,
        difficulty=2,
        checks=checks,
        allowed_changes={"email_messages": lambda b, a: (b is None and a is not None) or (b is not None and a is not None and b["id"] == draft_id)},
    )
