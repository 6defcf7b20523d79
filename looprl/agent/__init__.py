"""The agent side of an episode: the ReAct scaffold (prompt and worked example) and the
token-exact chat -> ids builder with its trainable mask."""

from looprl.agent.scaffold import DEFAULT_PROMPTS, Scaffold, ScaffoldConfig, builtin_scaffolds, scaffold_for
from looprl.agent.tokens import ChatTokens, TemplateError, TokenStream

__all__ = ["DEFAULT_PROMPTS", "Scaffold", "ScaffoldConfig", "builtin_scaffolds", "scaffold_for", "ChatTokens", "TemplateError", "TokenStream"]
