"""Code cells in agent messages, and ground-truth solutions cut into turns.

The paper's scaffold runs *all* ```python blocks of a message, concatenated (so several cells in
one turn is open-loop control, a behaviour the analysis counts). `extract_code_blocks` finds them;
`split_into_turns` cuts a solution into top-level statements (a loop or `with` block is one
statement), each with the comment lines just above it as its "thinking" — the unit in which
ground-truth solutions are replayed through `Env.step` and turned into SFT-GT chats.
"""

from __future__ import annotations

import ast
import re
import threading
from dataclasses import dataclass

# CPython 3.11's ast.parse is not safe to call from several threads at once ("SystemError: AST
# constructor recursion depth mismatch", seen replaying 32 episodes in threads); parse under a lock.
_PARSE_LOCK = threading.Lock()

# ```python ... ``` (also ```py and a bare ``` fence); the closing fence may be missing at the end of
# a message cut off by the token limit, in which case the rest of the message is the cell.
_FENCE = re.compile(r"```[ \t]*(python|py|python3)?[ \t]*\n(.*?)(?:\n[ \t]*```|\Z)", re.DOTALL | re.IGNORECASE)


def extract_code_blocks(message: str) -> list[str]:
    """The code of every fenced Python block in ``message``, in order (empty blocks dropped)."""
    blocks = []
    for match in _FENCE.finditer(message):
        code = match.group(2).strip("\n")
        if code.strip():
            blocks.append(code)
    return blocks


def join_code_blocks(blocks: list[str]) -> str:
    return "\n\n".join(blocks)


@dataclass(frozen=True)
class SolutionTurn:
    thought: str  # the comment lines above the statement, without '#'
    code: str  # the statement's source, comments inside it kept


def split_into_turns(solution: str) -> list[SolutionTurn]:
    """Cut a solution into one turn per top-level statement (compound statements stay whole)."""
    with _PARSE_LOCK:
        tree = ast.parse(solution)
    lines = solution.splitlines()
    turns: list[SolutionTurn] = []
    prev_end = 0
    for node in tree.body:
        start = node.lineno - 1
        if getattr(node, "decorator_list", None):  # why: only some ast node types have decorators
            start = min(d.lineno - 1 for d in node.decorator_list)
        end = node.end_lineno or node.lineno
        comments = [ln.strip()[1:].strip() for ln in lines[prev_end:start] if ln.strip().startswith("#")]
        turns.append(SolutionTurn(thought=" ".join(c for c in comments if c), code="\n".join(lines[start:end])))
        prev_end = end
    return turns
