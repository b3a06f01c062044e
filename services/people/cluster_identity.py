"""Each person's own identity on the lab's Slurm clusters (issue 25): cluster username, Slurm account, SSH key.

An admin maps a FoldDeck user to the cluster username their jobs run as (on hosts with
`submit_as = "sudo"` or `"own_key"`), the Slurm account their GPU-hours are charged to (every
Slurm host: `--account`, so sacct/sreport and fairshare count per person), and for `"own_key"`
the private key file, on FoldDeck's machine, that logs in to the login node as them. A person
without a mapping runs under the host's own user and account, and is still named in every job
(`--comment`, and `--wckey` where the host sends it). CLI:

    python -m services.people.cluster_identity set NAME [--cluster-user U] [--account A] [--key-file F]
    python -m services.people.cluster_identity show NAME | list
"""
from __future__ import annotations

import argparse
import re
import sqlite3
import sys
import time
from dataclasses import dataclass

from services.platform.errors import InvalidInput

# POSIX's portable user names (what useradd accepts by default); Slurm account names as sacctmgr takes them.
_CLUSTER_USER = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class ClusterIdentity:
    """Who a FoldDeck user is on the cluster; empty fields fall back to the host's own user and account."""

    username: str  # the FoldDeck user, named in every job's --comment (and --wckey)
    cluster_user: str = ""
    account: str = ""
    key_file: str = ""

    @property
    def mapped(self) -> bool:
        return bool(self.cluster_user or self.account or self.key_file)


def check(cluster_user: str, account: str, key_file: str) -> None:
    """Raise InvalidInput naming each field that cannot be used (empty fields are fine)."""
    problems = []
    if cluster_user and not _CLUSTER_USER.match(cluster_user):
        problems.append(f"cluster user {cluster_user!r}: use a Unix user name (lower-case letters, digits, _ . -, "
                        "at most 32, not starting with a digit)")
    if account and not _ACCOUNT.match(account):
        problems.append(f"account {account!r}: use letters, digits, _ . - only (as sacctmgr names it)")
    if key_file and not key_file.startswith("/"):
        problems.append(f"key file {key_file!r}: give an absolute path on FoldDeck's machine")
    if problems:
        raise InvalidInput("The cluster identity cannot be saved: " + "; ".join(problems) + ".", problems)


def get(conn: sqlite3.Connection, user_id: int) -> ClusterIdentity:
    """Return the person's cluster identity (empty fields when they have no mapping).

    Raises:
        InvalidInput: no FoldDeck user has this id.
    """
    row = conn.execute("SELECT u.username, c.cluster_user, c.account, c.key_file FROM users u "
                       "LEFT JOIN cluster_identities c ON c.user_id = u.id WHERE u.id = ?", (user_id,)).fetchone()
    if row is None:
        raise InvalidInput(f"No user with id {user_id}.")
    return ClusterIdentity(row[0], row[1] or "", row[2] or "", row[3] or "")


def set_identity(conn: sqlite3.Connection, user_id: int, *, cluster_user: str = "", account: str = "",
                 key_file: str = "", by: str = "") -> ClusterIdentity:
    """Save the person's cluster identity (all fields empty removes it) and return it.

    Raises:
        InvalidInput: a field cannot be used, or no user has this id (nothing is saved).
    """
    cluster_user, account, key_file = cluster_user.strip(), account.strip(), key_file.strip()
    check(cluster_user, account, key_file)
    get(conn, user_id)
    if not (cluster_user or account or key_file):
        conn.execute("DELETE FROM cluster_identities WHERE user_id = ?", (user_id,))
    else:
        conn.execute("INSERT INTO cluster_identities (user_id, cluster_user, account, key_file, changed_by, "
                     "changed_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                     "cluster_user = excluded.cluster_user, account = excluded.account, key_file = excluded.key_file, "
                     "changed_by = excluded.changed_by, changed_at = excluded.changed_at",
                     (user_id, cluster_user, account, key_file, by, time.time()))
    return get(conn, user_id)


def all_identities(conn: sqlite3.Connection) -> dict[int, ClusterIdentity]:
    """Return every mapped person's identity by user id."""
    rows = conn.execute("SELECT c.user_id, u.username, c.cluster_user, c.account, c.key_file FROM cluster_identities c "
                        "JOIN users u ON u.id = c.user_id ORDER BY u.username").fetchall()
    return {r[0]: ClusterIdentity(r[1], r[2], r[3], r[4]) for r in rows}


def cluster_users(conn: sqlite3.Connection) -> list[str]:
    """Return every mapped cluster user name (squeue's --users when jobs run as their people)."""
    return [r[0] for r in conn.execute("SELECT DISTINCT cluster_user FROM cluster_identities WHERE cluster_user != '' "
                                       "ORDER BY cluster_user")]


def main(argv: list[str] | None = None) -> int:
    from services.people import users
    from services.platform import db
    from services.platform.errors import FoldDeckError
    from services.platform.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m services.people.cluster_identity",
                                     description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    set_ = sub.add_parser("set", help="map a FoldDeck user to a cluster user, account and key (empty: remove)")
    set_.add_argument("name")
    for flag in ("--cluster-user", "--account", "--key-file"):
        set_.add_argument(flag, default="")
    sub.add_parser("show").add_argument("name")
    sub.add_parser("list")
    args = parser.parse_args(argv)
    conn = db.connect(load_settings().db_path)
    try:
        if args.cmd == "list":
            found = all_identities(conn).values()
        else:
            user = users.get_by_name(conn, args.name)
            found = [set_identity(conn, user.id, cluster_user=args.cluster_user, account=args.account,
                                  key_file=args.key_file, by="cli") if args.cmd == "set" else get(conn, user.id)]
    except FoldDeckError as exc:
        print(exc, file=sys.stderr)
        return 2
    for i in found:
        print(f"{i.username}\tcluster user {i.cluster_user or '-'}\taccount {i.account or '-'}\t"
              f"key {i.key_file or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
