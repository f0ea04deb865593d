"""Nothing under /desk is reachable signed out, volunteers never reach staff or admin pages,
and a form sent without its CSRF token is refused."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from bot.desk_web import desk_routes
from bot.desk_web.security import SIGN_IN
from bot.web import create_app
from tests.desk_web.conftest import PASSWORD, csrf_of, sign_in


@pytest.fixture
async def client(aiohttp_client, assistant) -> TestClient:
    return await aiohttp_client(create_app(assistant))


def routes_to_try(app) -> list[tuple[str, str, frozenset | None]]:
    """Every /desk route with sample values in its path."""
    return [
        (method, path.replace("{ticket}", "1").replace("{token}", "x").replace("{code}", "1.001193"), roles)
        for method, path, roles in desk_routes(app)
    ]


async def test_every_desk_route_refuses_a_signed_out_visitor(client):
    routes = routes_to_try(client.server.app)
    assert len(routes) >= 8, routes
    checked = 0
    for method, path, roles in routes:
        if roles is None:
            continue  # the sign-in and invitation pages themselves
        token = csrf_of(await (await client.get(SIGN_IN)).text())
        response = await client.request(method, path, data={"csrf": token}, allow_redirects=False)
        if method == "GET":
            assert response.status == 303 and response.headers["Location"].startswith(SIGN_IN), (method, path)
        else:
            assert response.status == 401, (method, path, response.status)
        checked += 1
    assert checked >= 6


async def test_a_volunteer_is_refused_every_staff_and_admin_route(client, make_account):
    token = await sign_in(client, make_account("volunteer"))
    refused = 0
    for method, path, roles in routes_to_try(client.server.app):
        if roles is None or "volunteer" in roles:
            continue
        response = await client.request(method, path, data={"csrf": token}, allow_redirects=False)
        assert response.status == 403, (method, path, response.status)
        assert "Không được phép" in await response.text()
        refused += 1
    assert refused >= 5
    assert (await client.get("/desk/lookup")).status == 200  # their own pages work
    assert (await client.get("/desk/submissions")).status == 200


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(client, make_account, assistant):
    from bot.desk import StoredDesk

    reference = StoredDesk(assistant.store).open_ticket("web:csrf-victim", "request_human", "Lý do: thử")
    ticket_id = int(reference.split("-")[1])
    await sign_in(client, make_account("staff"))
    for data in ({}, {"csrf": "doan-bua"}):
        response = await client.post(f"/desk/tickets/{ticket_id}/take", data=data, allow_redirects=False)
        assert response.status == 403
    assert assistant.handover.ticket(ticket_id).status == "open"


async def test_wrong_passwords_lock_the_account_and_every_attempt_is_audited(client, make_account, assistant):
    from sqlalchemy import select

    from bot.storage.models import DeskAudit

    username = make_account("staff")
    for _ in range(5):
        token = csrf_of(await (await client.get(SIGN_IN)).text())
        response = await client.post(SIGN_IN, data={"username": username, "password": "sai-roi-nhe", "csrf": token})
    assert response.status == 429 and "tạm khoá" in await response.text()
    token = csrf_of(await (await client.get(SIGN_IN)).text())
    response = await client.post(SIGN_IN, data={"username": username, "password": PASSWORD, "csrf": token},
                                 allow_redirects=False)
    assert response.status == 429  # even the right password waits for the lock to end
    with assistant.store.session() as session:
        actions = session.execute(select(DeskAudit.action).where(DeskAudit.username == username)).scalars().all()
    assert actions.count("sign_in_failed") == 5 and "sign_in_locked" in actions and "sign_in" not in actions


async def test_the_session_cookie_is_http_only_strict_and_scoped_to_the_desk(client, make_account):
    form = await client.get(SIGN_IN)
    token = csrf_of(await form.text())
    response = await client.post(SIGN_IN, data={"username": make_account("staff"), "password": PASSWORD, "csrf": token},
                                 allow_redirects=False)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/desk" in cookie
