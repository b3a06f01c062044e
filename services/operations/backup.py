"""`python -m services.operations.backup DEST` / `... --restore SRC`: back up a live FoldDeck.

A backup is a folder: `folddeck.db` copied with SQLite's online backup API (a consistent snapshot
while the web app, worker and sampler keep writing), the `jobs/` folders (inputs, outputs), the
secret key and hosts file. Restore copies it into an empty (or `--force`d) data dir; stop FoldDeck
first. Job rows are the truth: a job folder written after the snapshot has no row and is skipped.
"""
from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import time
from pathlib import Path

from services.platform import boot, defaults
from services.platform.errors import SettingsError
from services.platform.settings import Settings

EXTRA_FILES = (defaults.SECRET_KEY_FILE, "hosts.toml")  # small files a restored instance needs
PAGES_PER_STEP = 1024  # backup copies this many pages, then lets writers in (a 4 KiB page: 4 MiB per step)


def backup(settings: Settings, dest: Path) -> dict:
    """Write a backup of the data dir to `dest` (created; must not exist); return what was copied."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=False)
    dest.chmod(0o700)  # a backup holds every user's data and the password hashes: owner only
    src = sqlite3.connect(settings.db_path, timeout=defaults.DB_BUSY_TIMEOUT_MS / 1000)
    out = sqlite3.connect(dest / defaults.DB_FILE)
    try:
        src.backup(out, pages=PAGES_PER_STEP, sleep=0.005)
        ids = [r[0] for r in out.execute("SELECT id FROM jobs")]
    finally:
        out.close()
        src.close()
    (dest / defaults.DB_FILE).chmod(defaults.DB_FILE_MODE)
    copied = 0
    for job_id in ids:
        folder = settings.jobs_dir / str(job_id)
        if folder.is_dir():
            shutil.copytree(folder, dest / "jobs" / str(job_id), symlinks=True)
            copied += 1
    for name in EXTRA_FILES:
        if (settings.data_dir / name).is_file():
            shutil.copy2(settings.data_dir / name, dest / name)
    (dest / "BACKUP.txt").write_text(f"FoldDeck backup of {settings.data_dir} at "
                                     f"{time.strftime('%Y-%m-%d %H:%M:%S %z')}: {len(ids)} jobs, {copied} folders.\n")
    return {"jobs": len(ids), "folders": copied, "dest": str(dest)}


def restore(src: Path, data_dir: Path, force: bool = False) -> dict:
    """Copy a backup folder into `data_dir` (which must hold no database unless `force`).

    Raises:
        SettingsError: `src` is not a backup, or `data_dir` already holds a database.
    """
    src, data_dir = Path(src), Path(data_dir)
    if not (src / defaults.DB_FILE).is_file():
        raise SettingsError(f"{src} is not a FoldDeck backup (no {defaults.DB_FILE}).")
    target = data_dir / defaults.DB_FILE
    if target.exists() and not force:
        raise SettingsError(f"{target} exists; stop FoldDeck and pass --force to overwrite it.")
    data_dir.mkdir(parents=True, exist_ok=True)
    for stale in (target, target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
        stale.unlink(missing_ok=True)
    shutil.copy2(src / defaults.DB_FILE, target)
    target.chmod(defaults.DB_FILE_MODE)
    if (src / "jobs").is_dir():
        shutil.copytree(src / "jobs", data_dir / "jobs", symlinks=True, dirs_exist_ok=True)
    for name in EXTRA_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, data_dir / name)
    with sqlite3.connect(target) as conn:
        n = conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    return {"jobs": n, "data_dir": str(data_dir)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.operations.backup", description=__doc__.splitlines()[0])
    parser.add_argument("path", help="backup folder to write (or, with --restore, to read)")
    parser.add_argument("--restore", action="store_true", help="restore PATH into FOLDDECK_DATA_DIR")
    parser.add_argument("--force", action="store_true", help="with --restore: overwrite an existing database")
    args = parser.parse_args(argv)
    try:
        # A restore reads the settings only: migrating first would create the database it is about to restore.
        settings = boot.load() if args.restore else boot.boot("backup")
        if args.restore:
            done = restore(Path(args.path), settings.data_dir, args.force)
            print(f"Restored {done['jobs']} jobs into {done['data_dir']}.")
        else:
            done = backup(settings, Path(args.path))
            print(f"Backed up {done['jobs']} jobs ({done['folders']} job folders) to {done['dest']}.")
    except (SettingsError, FileExistsError, OSError, sqlite3.Error) as exc:
        print(f"backup: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
