"""Launch AppWorld's environment server on 127.0.0.1, for one looprl episode at a time.

This file runs under the *AppWorld* virtual environment's interpreter (AppWorld pins pydantic<2,
looprl needs pydantic 2), so it imports only the standard library, uvicorn and appworld, never
looprl. `looprl.env.appworld.AppWorldEnv` starts it as a child process:

    <appworld-venv>/bin/python looprl/env/appworld/server.py --root ROOT --port-file FILE

Guarantees:

* the server listens on 127.0.0.1 only (AppWorld's own `appworld serve` binds 0.0.0.0), on a port the
  kernel picks, so any number of servers run side by side without racing for ports;
* the chosen port is written to ``--port-file`` atomically once the socket is bound; the parent then
  polls ``GET /`` until the app answers;
* it exits by itself when the process that started it (``--parent-pid``) is gone;
* a root without ``data/`` or an AppWorld install whose encrypted apps were never unpacked
  (`appworld install`) exits with status 3 and a one-line reason on stderr, which ends up in the log.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

# This file sits in looprl/env/appworld/ next to looprl's own modules (install.py, export.py, ...); run as
# a script, its folder would come first on sys.path and those names would shadow the AppWorld venv's.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]


def _fail(message: str) -> None:
    print(f"looprl-appworld-server: {message}", file=sys.stderr, flush=True)
    sys.exit(3)


def _exit_with_parent(parent_pid: int) -> None:
    # If looprl dies without stopping us (SIGKILL, OOM), we are re-parented; exit then instead of
    # lingering as an orphan server.
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="APPWORLD_ROOT: the folder that holds data/")
    parser.add_argument("--port-file", required=True, help="where to write the bound port")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process is gone")
    args = parser.parse_args()
    if args.parent_pid is not None:
        _exit_with_parent(args.parent_pid)

    root = os.path.abspath(args.root)
    if not os.path.isdir(os.path.join(root, "data")):
        _fail(f"no data/ folder in the AppWorld root {root}; pass the folder that holds data/tasks and data/base_dbs")
    os.environ["APPWORLD_ROOT"] = root
    os.chdir(root)  # appworld loads a .env from the working directory; keep it the root

    try:
        import appworld.apps.api_docs  # noqa: F401  (present only after `appworld install`)
    except ModuleNotFoundError as exc:
        _fail(f"the appworld package is not fully installed ({exc}); run `looprl env setup-appworld`")

    import uvicorn
    from appworld.serve.environment import app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.replace(tmp, args.port_file)
    print(f"looprl-appworld-server: listening on 127.0.0.1:{port} (root {root})", flush=True)

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
