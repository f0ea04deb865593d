"""Actions for the conversation itself: what to say when a message is not understood."""

from __future__ import annotations

from flows.actions import registry
from flows.actions.procedure_info import choice_buttons
from flows.engine import ActionContext
from knowledge import MENTIONED

# After this many misunderstood messages in a row, offer a person.
MISSES_BEFORE_HUMAN = 2
# Linked procedures at or above this score are offered as "did you mean" (knowledge's MENTIONED band).
SUGGEST = MENTIONED


@registry.register("answer_not_understood")
def answer_not_understood(ctx: ActionContext) -> str:
    """Asks which procedure was meant when there are candidates; offers a person after repeated misses."""
    hits = [p for p in ctx.parse.procedures if p.score >= SUGGEST][:3]
    if hits and ctx.misses < MISSES_BEFORE_HUMAN + 1:
        ctx.say_with_buttons("procedure_info_choose", choice_buttons(hits, "ask_documents"))
        return "suggested"
    ctx.say("not_understood_again" if ctx.misses >= MISSES_BEFORE_HUMAN else "not_understood")
    return "not_understood"
