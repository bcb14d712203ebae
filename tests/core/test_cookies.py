"""HelloVerifyRequest cookies: bound to the address, valid 60 s, secret rotated."""

from __future__ import annotations

import itertools

import pytest

from godot_dtls.core.cookies import COOKIE_LIFETIME, COOKIE_SIZE, CookieJar

CLIENT = ("127.0.0.1", 40000)


def counting_random():
    counter = itertools.count()
    return lambda size: next(counter).to_bytes(size, "big")


def test_cookie_is_32_bytes_and_verifies_for_its_address():
    jar = CookieJar()
    cookie = jar.issue(CLIENT, 100.0)
    assert len(cookie) == COOKIE_SIZE
    assert jar.verify(cookie, CLIENT, 100.0)


@pytest.mark.parametrize("other", [("127.0.0.1", 40001), ("127.0.0.2", 40000), ("::1", 40000)])
def test_cookie_is_bound_to_the_client_address_and_port(other):
    jar = CookieJar()
    assert not jar.verify(jar.issue(CLIENT, 100.0), other, 100.0)


def test_cookie_expires_after_its_lifetime():
    jar = CookieJar()
    cookie = jar.issue(CLIENT, 100.0)
    assert jar.verify(cookie, CLIENT, 100.0 + COOKIE_LIFETIME)
    assert not jar.verify(cookie, CLIENT, 100.0 + COOKIE_LIFETIME + 1.0)


def test_cookie_from_another_server_is_refused():
    assert not CookieJar().verify(CookieJar().issue(CLIENT, 5.0), CLIENT, 5.0)


@pytest.mark.parametrize("cookie", [b"", b"\x00" * 31, b"\x00" * 33, b"\xff" * 32])
def test_malformed_cookies_are_refused(cookie):
    assert not CookieJar().verify(cookie, CLIENT, 1.0)


def test_cookie_issued_just_before_a_rotation_still_verifies_after_it():
    jar = CookieJar(rotate_every=60.0, random_bytes=counting_random())
    jar.issue(CLIENT, 0.0)  # starts the rotation clock
    cookie = jar.issue(CLIENT, 59.0)
    assert jar.verify(cookie, CLIENT, 61.0)  # rotated at 61: previous secret kept


def test_rotation_changes_the_secret():
    fresh = CookieJar(rotate_every=60.0, random_bytes=counting_random())
    rotated = CookieJar(rotate_every=60.0, random_bytes=counting_random())  # same first secret
    rotated.issue(CLIENT, 0.0)
    same_time_fresh = fresh.issue(CLIENT, 60.0)
    same_time_rotated = rotated.issue(CLIENT, 60.0)  # rotates first
    assert same_time_fresh[:4] == same_time_rotated[:4]  # same timestamp
    assert same_time_fresh[4:] != same_time_rotated[4:]  # another secret, another MAC


def test_secret_must_outlive_a_cookie():
    with pytest.raises(ValueError):
        CookieJar(rotate_every=COOKIE_LIFETIME - 1)
