"""Environments: the Env protocol, the registry, and the conformance checker."""

from looprl.env.base import Env, Message, StepResult, make_env, register_env, registered_envs

__all__ = ["Env", "Message", "StepResult", "make_env", "register_env", "registered_envs", "check_env"]


def __getattr__(name):  # check_env lives with the env implementations; import on first use
    if name == "check_env":
        from looprl.env.checker import check_env

        return check_env
    raise AttributeError(name)
