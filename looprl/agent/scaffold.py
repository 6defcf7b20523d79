"""The ReAct scaffold: the chat an agent sees, built from configurable prompt pieces.

Layout (the LOOP paper's scaffold, PAPER_NOTES.md "Scaffold", with a worked example of our own):

1. a system line;
2. a first user message that frames the user as the agent's supervisor and explains the multi-turn
   Python REPL and the three documentation APIs, ending with the example's task;
3. the worked example as a past exchange (assistant code, user REPL output, ...);
4. a user message with the key rules and then the real task block (date, the user's name, email,
   phone number, instruction).

Each observation is the REPL output followed by a short reminder of the task block.

All text lives in a `ScaffoldConfig` (pydantic, loadable from YAML; the default is
looprl/agent/prompts/default.yaml). Only the placeholders named in a field's description are filled
in, by plain replacement, so code with braces in the prompt text is safe.

Guarantees: `initial_messages` and `observation_message` are pure functions of their inputs; a
missing piece of task information is an error naming the key and what the env's info held.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from looprl.env.base import Message

DEFAULT_PROMPTS = Path(__file__).parent / "prompts" / "default.yaml"
TASK_PLACEHOLDERS = ("date", "first_name", "last_name", "email", "phone_number", "instruction")


class DemoMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str


class ScaffoldConfig(BaseModel):
    """The prompt pieces of the ReAct scaffold."""

    model_config = ConfigDict(extra="forbid")

    system: str = Field(description="the system message")
    intro: str = Field(description="first user message: supervisor framing, the REPL, the documentation APIs")
    demo: list[DemoMessage] = Field(description="worked example as a past exchange; starts with a user message (the example task) and alternates")
    rules: str = Field(description="key rules, shown right before the real task")
    task: str = Field(description="the task block; placeholders {date} {first_name} {last_name} {email} {phone_number} {instruction}")
    observation: str = Field(description="each observation; placeholders {output} (the REPL output) and {task} (the task block)")
    empty_output: str = Field("Execution successful.", description="shown as {output} when the code printed nothing")

    @classmethod
    def from_yaml(cls, path: str | Path) -> "ScaffoldConfig":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"scaffold prompt file {str(path)!r} does not exist")
        data = yaml.safe_load(path.read_text())
        if not isinstance(data, dict):
            raise ValueError(f"scaffold prompt file {str(path)!r} must hold a mapping of prompt pieces, got {type(data).__name__}")
        return cls.model_validate(data)

    def model_post_init(self, __context: Any) -> None:
        if self.demo and self.demo[0].role != "user":
            raise ValueError(f"scaffold demo must start with a user message (the example task), got role {self.demo[0].role!r}")
        for prev, cur in zip(self.demo, self.demo[1:]):
            if prev.role == cur.role:
                raise ValueError(f"scaffold demo roles must alternate user/assistant; two {cur.role!r} messages in a row")
        if self.demo and self.demo[-1].role != "user":
            raise ValueError("scaffold demo must end with a user message (the last REPL output) so the real task follows it")


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _fill(template: str, values: dict[str, str]) -> str:
    # One pass, so a value that itself contains "{task}" (REPL output can hold anything) stays as it is.
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _format_date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class Scaffold:
    """Builds the opening chat and each observation message from a `ScaffoldConfig`.

    `info` is the env's reset info: it must carry "instruction" (str), "supervisor" (a dict with
    first_name, last_name, email, phone_number) and "date" (a datetime or string).
    """

    def __init__(self, config: ScaffoldConfig | None = None):
        self.config = config or ScaffoldConfig.from_yaml(DEFAULT_PROMPTS)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Scaffold":
        return cls(ScaffoldConfig.from_yaml(path))

    def task_block(self, info: dict[str, Any]) -> str:
        missing = [key for key in ("instruction", "supervisor", "date") if key not in info]
        if missing:
            raise KeyError(
                f"the scaffold needs {missing} in the env's reset info, which holds {sorted(info)}; "
                "use an env that provides them or pass scaffold=None to use the env's own messages"
            )
        supervisor = info["supervisor"] or {}
        values = {key: str(supervisor.get(key, "")) for key in ("first_name", "last_name", "email", "phone_number")}
        values["date"] = _format_date(info["date"])
        values["instruction"] = str(info["instruction"])
        return _fill(self.config.task, values)

    def initial_messages(self, env_messages: list[Message], info: dict[str, Any]) -> list[Message]:
        """The opening chat. `env_messages` (the env's own prompt) are replaced by the scaffold's."""
        cfg = self.config
        messages: list[Message] = [{"role": "system", "content": cfg.system}]
        demo = [{"role": m.role, "content": m.content} for m in cfg.demo]
        if demo:
            first = {"role": "user", "content": cfg.intro.rstrip() + "\n\n" + demo[0]["content"]}
            messages.append(first)
            messages.extend(demo[1:-1])
            last_output = demo[-1]["content"]
            messages.append({"role": "user", "content": last_output.rstrip() + "\n\n" + cfg.rules.rstrip() + "\n\n" + self.task_block(info)})
        else:
            messages.append({"role": "user", "content": cfg.intro.rstrip() + "\n\n" + cfg.rules.rstrip() + "\n\n" + self.task_block(info)})
        return messages

    def observation_message(self, observation: str, info: dict[str, Any]) -> Message:
        """One observation: the REPL output and a reminder of the task."""
        output = observation if observation.strip() else self.config.empty_output
        return {"role": "user", "content": _fill(self.config.observation, {"output": output, "task": self.task_block(info)})}


def builtin_scaffolds() -> list[str]:
    """Names of the prompt sets shipped in looprl/agent/prompts/ ('default', 'compact', ...)."""
    return sorted(p.stem for p in DEFAULT_PROMPTS.parent.glob("*.yaml"))


# The prompt set rollout.scaffold="default" means for an env whose APIs the default set's worked example
# does not use: real AppWorld's example reads AppWorld's own API docs (spotify, supervisor).
ENV_DEFAULT_PROMPTS = {"appworld": "appworld"}


def scaffold_for(choice: str, env: str | None = None) -> "Scaffold | None":
    """rollout.scaffold: a built-in prompt set by name ('default', 'compact', 'appworld'), 'env' for the
    env's own messages (None), or the path of a YAML file of prompt pieces. For ``env`` (the env's
    registered name) 'default' is that env's own default set (ENV_DEFAULT_PROMPTS: appworld -> appworld)."""
    if choice == "env":
        return None
    if choice == "default" and env in ENV_DEFAULT_PROMPTS:
        choice = ENV_DEFAULT_PROMPTS[env]
    if choice in builtin_scaffolds():
        return Scaffold.from_yaml(DEFAULT_PROMPTS.parent / f"{choice}.yaml")
    if not Path(choice).is_file():
        raise FileNotFoundError(f"rollout.scaffold={choice!r} is neither a built-in prompt set ({', '.join(builtin_scaffolds())}), 'env', nor a YAML file")
    return Scaffold.from_yaml(choice)
