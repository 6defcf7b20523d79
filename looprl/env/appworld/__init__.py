"""The real AppWorld (Trivedi et al. 2024) as a looprl env: `make_env("appworld", root=..., python=...)`.

AppWorld pins pydantic<2, so it runs in a virtual environment of its own and looprl talks to it over
HTTP. The modules here split along that line:

* `adapter.py`  the env (`AppWorldEnv`), its server pool, task ids, splits and ground truth (looprl side);
* `install.py`  finds, creates and checks the AppWorld venv (standard library only, so `looprl --help` stays fast);
* `export.py`   writes an evaluation's episodes as AppWorld experiments for `appworld evaluate`;
* `server.py`, `fixture.py`  run INSIDE the AppWorld venv by file path (never imported by looprl's
  interpreter): the environment server, and the 5-task fixture root the tests and smoke runs use.
"""

from looprl.env.appworld import adapter as _adapter
from looprl.env.appworld.adapter import *  # noqa: F403 - the package's public names are the adapter's, listed once there

__all__ = list(_adapter.__all__)
