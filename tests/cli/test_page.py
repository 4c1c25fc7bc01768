"""``macbot page``: the page's address, with the token in the fragment only when there is one."""

from __future__ import annotations

from conftest import make_config

from macbot import cli
from macbot.cli.page import page_url


def test_the_address_carries_the_token_after_the_hash(monkeypatch):
    monkeypatch.delenv("MACBOT_URL")
    assert page_url(make_config(server={"port": 8200})) == "http://127.0.0.1:8200/"
    with_token = make_config(server={"port": 8200, "auth_token": "a/b c"})
    assert page_url(with_token) == "http://127.0.0.1:8200/#token=a%2Fb%20c"


def test_page_prints_the_address(capsys):
    assert cli.main(["page"]) == 0
    assert capsys.readouterr().out.strip() == "http://127.0.0.1:9/"  # $MACBOT_URL of the tests
