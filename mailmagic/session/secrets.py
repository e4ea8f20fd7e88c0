"""Finds a password without it ever being typed into a notebook cell: from a named environment
variable, from the running lab server's users (so a notebook executed headless logs in with no
secret in its cells or outputs), or from an interactive prompt (getpass)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping


class NoPassword(Exception):
    """No password could be found; the message says where one can come from."""


def find_password(
    user: str,
    env_var: str | None,
    lab_users: Mapping[str, str] | None,
    prompt: Callable[[str], str] | None,
) -> str:
    """The password for ``user``: environment variable, then lab users, then the prompt."""
    if env_var:
        value = os.environ.get(env_var, "")
        if not value:
            raise NoPassword(f"the environment variable {env_var} is not set or empty")
        return value
    if lab_users is not None:
        name = user.split("@", 1)[0].lower()
        if name in lab_users:
            return lab_users[name]
    if prompt is None:
        raise NoPassword(
            f"no password for {user}: set an environment variable and pass --password-env NAME"
        )
    return prompt(f"Password for {user}: ")
