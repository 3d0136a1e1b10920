"""The system page: is Asterisk up (asked over ARI, never a 500 when it is not), which
engines the settings configure, the Python and package versions, the database, and how
much disk the call log takes."""

from __future__ import annotations

from aiohttp import web

from web.state import CONFIG, STORE
from web.system_info import (
    AsteriskStatus,
    asterisk_status,
    calls_log_use,
    human_bytes,
    package_versions,
    runtime,
)
from web.templating import render

DATABASE_KINDS = {"SqliteDatabase": "SQLite", "PostgresqlDatabase": "PostgreSQL"}


async def system_page(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    database = request.app[STORE].database
    asterisk = (await asterisk_status(config.ari) if config.ari is not None
                else AsteriskStatus(reachable=False, problem="ARI is not configured"))
    use = await calls_log_use(config.calls_log_dir)
    return await render("system.html", request, {
        "asterisk": asterisk,
        "ari_url": config.ari.url if config.ari is not None else "",
        "engines": config.engines,
        "runtime": runtime(),
        "packages": package_versions(),
        # The database's name (a file for SQLite), never the URL: it may hold a password.
        "database_kind": DATABASE_KINDS.get(type(database).__name__, type(database).__name__),
        "database_name": str(database.database),
        "calls_log_dir": config.calls_log_dir,
        "calls_log_files": use.files,
        "calls_log_size": human_bytes(use.bytes),
        "disk_free": human_bytes(use.free_bytes),
    })


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/system", system_page, name="system")
