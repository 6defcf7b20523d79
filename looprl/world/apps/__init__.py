"""The built-in apps, one module per app. Importing this package registers them all.

APP_ORDER fixes the order in which apps seed the base world (each app has its own RNG stream, so
the order only matters for apps that read another app's content while seeding).
"""

import importlib

APP_ORDER = (
    "supervisor",
    "api_docs",
    "notes",
    "todo",
    "phone",
    "email",
    "music",
    "payments",
    "shopping",
    "expenses",
    "files",
)

for _name in APP_ORDER:
    importlib.import_module(f"{__name__}.{_name}")
