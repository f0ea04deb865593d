"""Actions of the portal_help flow: which portal problem it is (account, VNeID, login, OTP, payment, scanning).

The help texts are the responses `portal_help_topic_<topic>`; online_submission shows the same ones
when a user is stuck at a step, so there is one text per problem to keep right.
"""

from __future__ import annotations

from flows.actions import registry
from flows.actions.online_submission import mentions, word_lists
from flows.engine import ActionContext

# In this order when two topics match a message equally well.
TOPICS = ("otp", "account", "vneid", "login", "payment", "scan")


def topic_of(ctx: ActionContext, text: str) -> str | None:
    """The topic whose words (`portal_help_words_<topic>`) cover most of the message, or None."""
    lists = word_lists(ctx, "portal_help_words_", TOPICS)
    scores = {topic: mentions(text, lists[topic]) for topic in TOPICS}
    best = max(TOPICS, key=lambda t: scores[t])  # max keeps the first of equal scores
    return best if scores[best] else None


def _topic(ctx: ActionContext) -> str | None:
    chosen = ctx.parse.entities.get("topic")
    if chosen in TOPICS:
        return chosen
    return topic_of(ctx, ctx.parse.text) if not ctx.parse.from_button else None


def _offer_topics(ctx: ActionContext) -> None:
    ctx.extend_prompt(buttons=tuple(b for r in ctx.responses.render("portal_help_topics") for b in r.buttons))


@registry.register("detect_portal_help_topic")
def detect_portal_help_topic(ctx: ActionContext) -> str:
    """Takes the problem from the button or the message ("không nhận được OTP"); else offers the topics."""
    topic = _topic(ctx)
    if topic is None:
        _offer_topics(ctx)
        return "unknown"
    ctx.slots["portal_help_topic"] = topic
    return "found"


@registry.register("portal_help_topic_from_answer")
def portal_help_topic_from_answer(ctx: ActionContext) -> str:
    """Validates the answer to "which problem?": a topic button or words naming one."""
    topic = _topic(ctx)
    if topic is None:
        return "unclear"
    ctx.slots["portal_help_topic"] = topic
    return "valid"


@registry.register("answer_portal_help")
def answer_portal_help(ctx: ActionContext) -> str:
    """Says the help for the topic, with its own buttons, then other problems or a person."""
    key = f"portal_help_topic_{ctx.slots['portal_help_topic']}"
    own = tuple(b for r in ctx.responses.render(key) for b in r.buttons)
    more = tuple(b for r in ctx.responses.render("portal_help_more") for b in r.buttons)
    ctx.say_with_buttons(key, (*own, *more))
    return "answered"
