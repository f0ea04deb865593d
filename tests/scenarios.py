"""Conversation scenarios: YAML under tests/conversations/, run against any driver.

A file holds a list of scenarios:

    - name: birth registration documents, typed without diacritics
      turns:
        - user: lam giay khai sinh can giay to gi    # what the user types
          expect:
            intent: ask_documents
            started: [procedure_info]                # these flows started (subset)
            completed: [procedure_info]              # these flows finished (subset)
            flow: null                               # the flow waiting after the turn (null: none)
            says: ["Giấy tờ cần nộp"]                # each text appears in a reply (case-insensitive)
            not_says: ["Xin lỗi"]
            buttons: ["Lệ phí"]                      # each is part of an offered button's title
            no_buttons: ["Quay lại"]
            links: 1                                 # at least this many links
            checklist: 3                             # at least this many checklist items
            slots: {procedure_code: "1.001193"}      # slot values after the turn (null: unset)
        - press: Lệ phí                              # presses the offered button whose title contains it
        - wait_minutes: 90                           # time passes (flow expiry)
        - restart: true                              # the assistant restarts on the same database

A driver runs one turn and answers the turn as `python -m bot chat --json` writes it
(replies, buttons, intent, flow, started, completed, slots), so the same scenarios
can run through every channel adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from flows.yamlfile import LineDict, load_yaml

SCENARIO_DIR = Path(__file__).resolve().parent / "conversations"
EXPECT_KEYS = {
    "intent", "started", "completed", "flow", "says", "not_says", "buttons", "no_buttons", "links", "checklist", "slots"
}
TURN_KINDS = {"user", "press", "wait_minutes", "restart"}


class Driver(Protocol):
    async def send(self, user: str, text: str) -> dict[str, Any]: ...

    async def advance(self, minutes: float) -> None: ...

    async def restart(self) -> None: ...


@dataclass(frozen=True)
class Scenario:
    name: str
    where: str
    turns: list[LineDict]

    @property
    def id(self) -> str:
        return self.name


class ScenarioError(ValueError):
    """A malformed scenario file; the message says file:line."""


def load_scenarios(folder: Path = SCENARIO_DIR) -> list[Scenario]:
    scenarios: list[Scenario] = []
    for path in sorted(folder.glob("*.yml")):
        raw = load_yaml(path, folder.parent.parent) or []
        if not isinstance(raw, list):
            raise ScenarioError(f"{path}:1: a scenario file is a list of scenarios")
        for item in raw:
            if not isinstance(item, LineDict) or "name" not in item or not isinstance(item.get("turns"), list):
                where = item.where() if isinstance(item, LineDict) else str(path)
                raise ScenarioError(f"{where}: a scenario needs 'name' and 'turns'")
            for turn in item["turns"]:
                if not isinstance(turn, LineDict) or len(TURN_KINDS & set(turn)) != 1:
                    raise ScenarioError(f"{item.where('turns')}: each turn has exactly one of {sorted(TURN_KINDS)}")
                unknown = set(turn.get("expect") or {}) - EXPECT_KEYS
                if unknown:
                    raise ScenarioError(f"{turn.where('expect')}: unknown expectation(s) {sorted(unknown)}")
            scenarios.append(Scenario(str(item["name"]), item.where(), list(item["turns"])))
    names = [s.name for s in scenarios]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ScenarioError(f"scenario names must be unique: {sorted(duplicates)}")
    return scenarios


def _texts(turn: dict[str, Any]) -> str:
    return "\n".join(r["text"] for r in turn["replies"]).casefold()


def check(expect: dict[str, Any], turn: dict[str, Any], where: str) -> None:
    """Raises AssertionError naming the scenario line and what the turn really was."""
    problems: list[str] = []
    said = _texts(turn)
    titles = [b["title"] for b in turn["buttons"]]
    if "intent" in expect and turn["intent"] != expect["intent"]:
        problems.append(f"intent {turn['intent']!r} (conf {turn['confidence']}), expected {expect['intent']!r}")
    for key in ("started", "completed"):
        missing = [f for f in expect.get(key) or [] if f not in turn[key]]
        if missing:
            problems.append(f"{key} {turn[key]}, expected to include {missing}")
    if "flow" in expect and turn["flow"] != expect["flow"]:
        problems.append(f"waiting flow {turn['flow']!r}, expected {expect['flow']!r}")
    problems += [f"no reply says {t!r}" for t in expect.get("says") or [] if str(t).casefold() not in said]
    problems += [f"a reply says {t!r}" for t in expect.get("not_says") or [] if str(t).casefold() in said]
    problems += [f"no button {t!r}" for t in expect.get("buttons") or [] if not any(t in b for b in titles)]
    problems += [f"a button {t!r}" for t in expect.get("no_buttons") or [] if any(t in b for b in titles)]
    for key in ("links", "checklist"):
        count = sum(len(r[key]) for r in turn["replies"])
        if key in expect and count < int(expect[key]):
            problems.append(f"{count} {key}, expected at least {expect[key]}")
    for slot, value in (expect.get("slots") or {}).items():
        if turn["slots"].get(slot) != value:
            problems.append(f"slot {slot}={turn['slots'].get(slot)!r}, expected {value!r}")
    if problems:
        replies = "\n".join(f"    | {r['text']}" for r in turn["replies"])
        raise AssertionError(f"{where}: " + "; ".join(problems) + f"\n  buttons: {titles}\n  replies:\n{replies}")


async def run_scenario(scenario: Scenario, driver: Driver, user: str) -> None:
    last: dict[str, Any] | None = None
    for turn in scenario.turns:
        where = f"{turn.where()} ({scenario.name})"
        if "wait_minutes" in turn:
            await driver.advance(float(turn["wait_minutes"]))
            continue
        if "restart" in turn:
            await driver.restart()
            continue
        if "press" in turn:
            wanted = str(turn["press"])
            offered = [b for b in (last or {}).get("buttons", []) if wanted in b["title"]]
            if not offered:
                titles = [b["title"] for b in (last or {}).get("buttons", [])]
                raise AssertionError(f"{where}: no button {wanted!r} to press; offered {titles}")
            last = await driver.send(user, offered[0]["payload"])
        else:
            last = await driver.send(user, str(turn["user"]))
        check(turn.get("expect") or {}, last, where)
