"""Console users and API tokens: everyone signed in sees them; admins add and remove users
and revoke tokens (new tokens come from `secretary admin token`, shown once)."""

from __future__ import annotations

from aiohttp import web

from web.auth.users import ROLES
from web.query import form_text, parse_id, read_form
from web.state import ACCOUNTS, USER
from web.templating import render


async def _render(request: web.Request, *, error: str | None = None,
                  status: int = 200) -> web.StreamResponse:
    accounts = request.app[ACCOUNTS]
    return await render("users.html", request, {
        "users": await accounts.users(), "tokens": await accounts.tokens(),
        "roles": ROLES, "error": error}, status=status)


async def users_page(request: web.Request) -> web.StreamResponse:
    return await _render(request)


async def create_user(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    username, password, role = (form_text(form, name) for name in ("username", "password",
                                                                    "role"))
    if username is None or password is None or role is None:
        raise web.HTTPBadRequest(text="Give a user name, a password and a role.")
    try:
        await request.app[ACCOUNTS].create_user(username, password, role)
    except ValueError as exc:
        return await _render(request, error=str(exc), status=400)
    raise web.HTTPSeeOther(str(request.app.router["users"].url_for()))


async def delete_user(request: web.Request) -> web.StreamResponse:
    accounts = request.app[ACCOUNTS]
    user_id = parse_id(request.match_info["user_id"])
    target = await accounts.get_user(user_id)
    if target is None:
        raise web.HTTPNotFound(text="There is no such user.")
    if target.id == request[USER].id:
        return await _render(request, error="You cannot remove yourself.", status=400)
    if target.is_admin and await accounts.count_admins() <= 1:
        return await _render(request, error="The last admin cannot be removed.", status=400)
    await accounts.delete_user(user_id)
    raise web.HTTPSeeOther(str(request.app.router["users"].url_for()))


async def revoke_token(request: web.Request) -> web.StreamResponse:
    if not await request.app[ACCOUNTS].revoke_token(parse_id(request.match_info["token_id"])):
        raise web.HTTPNotFound(text="There is no such token.")
    raise web.HTTPSeeOther(str(request.app.router["users"].url_for()))


def add_routes(router: web.UrlDispatcher) -> None:
    users = router.add_resource("/users", name="users")
    users.add_route("GET", users_page)
    users.add_route("POST", create_user)
    router.add_post("/users/{user_id}/delete", delete_user, name="user_delete")
    router.add_post("/tokens/{token_id}/revoke", revoke_token, name="token_revoke")
