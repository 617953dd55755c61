"""Dropping root after the socket and the logs are open (`-u USER`)."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass


class UnknownUserError(LookupError):
    pass


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int


def lookup(user: str) -> Account:
    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except KeyError:
        raise UnknownUserError(f"no such user '{user}'; create it (useradd --system "
                               f"--no-create-home {user}) or give another with -u") from None
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def user_name() -> str:
    """The name of the user this process acts as, for messages that tell what to run."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def drop_to(account: Account) -> None:
    """Become the account for good: groups, then gid, then uid."""
    if os.geteuid() == account.uid:
        return
    os.setgroups(os.getgrouplist(account.name, account.gid))
    os.setgid(account.gid)
    os.setuid(account.uid)
    if account.uid != 0:
        try:
            os.setuid(0)
        except PermissionError:
            return
        raise RuntimeError("could still regain root after dropping privileges")
