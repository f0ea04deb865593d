"""Desk accounts from the command line, invitations, disabling; what each does at the door."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.web import create_app
from tests.desk_web.conftest import PASSWORD, csrf_of, sign_in


@pytest.fixture
async def client(aiohttp_client, assistant):
    return await aiohttp_client(create_app(assistant))


async def test_an_invited_volunteer_sets_a_password_once_and_signs_in(client, accounts):
    token = accounts.invite("moi.tnv", "volunteer", "Phạm Minh Anh")
    page = await client.get(f"/desk/invite/{token}")
    csrf = csrf_of(await page.text())
    short = await client.post(f"/desk/invite/{token}", data={"csrf": csrf, "password": "ngan", "again": "ngan"})
    assert "ít nhất 10 ký tự" in await short.text()
    done = await client.post(f"/desk/invite/{token}", data={"csrf": csrf, "password": PASSWORD, "again": PASSWORD})
    assert "Đã đặt mật khẩu" in await done.text()
    again = await client.post(f"/desk/invite/{token}", data={"csrf": csrf, "password": PASSWORD, "again": PASSWORD})
    assert "không còn hiệu lực" in await again.text()
    await sign_in(client, "moi.tnv")
    assert "Phạm Minh Anh" in await (await client.get("/desk/lookup")).text()


async def test_a_disabled_account_is_signed_out_at_its_next_page(client, accounts, make_account):
    username = make_account("staff")
    await sign_in(client, username)
    assert (await client.get("/desk/inbox")).status == 200
    accounts.disable(username)
    response = await client.get("/desk/inbox", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/desk/sign-in")


def test_the_users_command_adds_lists_and_disables(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'users.db'}", "PATH": "/usr/bin:/bin"}

    def bot(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", "users", *args], input=stdin, capture_output=True,
                              text=True, env=env, timeout=120)

    added = bot("add", "lan", "--role", "staff", "--name", "Nguyễn Thị Lan", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0 and "lan (staff)" in added.stdout
    assert bot("add", "lan", "--role", "staff", "--password-stdin", stdin=PASSWORD + "\n").returncode == 2
    assert bot("add", "ngan", "--role", "staff", "--password-stdin", stdin="ngan\n").returncode == 2
    invited = bot("invite", "tnv1", "--role", "volunteer")
    assert invited.returncode == 0 and "/desk/invite/" in invited.stdout
    assert bot("disable", "lan").returncode == 0
    listed = bot("list").stdout
    assert "lan\tstaff\tđã khoá" in listed and "tnv1\tvolunteer\thoạt động" in listed
