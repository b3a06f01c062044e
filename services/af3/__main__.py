"""Command line: `python -m services.af3 validate|convert|size|fasta ...`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from services.af3 import rules as R
from services.af3.chem.ccd import ccd_info
from services.af3.convert import af3_to_server
from services.af3.fasta import parse_fasta
from services.af3.jobs import JobDoc, load_jobs
from services.af3.loading import load_json_text
from services.af3.model import FoldJob
from services.af3.names import safe_filename
from services.af3.size import estimate_size
from services.af3.validate import validate
from services.platform import defaults
from services.platform.errors import InvalidInput

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2


class _Unreadable(Exception):
    """A file could not be read or is not JSON."""


def _read(path: str) -> Any:
    """Read and parse one JSON file, or raise _Unreadable with a printable message."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise _Unreadable(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return load_json_text(data, max_bytes=defaults.UPLOAD_MAX_BYTES)
    except InvalidInput as exc:
        raise _Unreadable(f"{path}: {exc}") from None


def _print_problems(path: str, jobs: list[JobDoc]) -> bool:
    """Print each problem as `FILE: PATH: message`; return whether every job is valid."""
    for job in jobs:
        for p in job.problems:
            prefix = "" if p.is_error else "warning: "
            print(f"{path}: {p.path or '(top level)'}: {prefix}{p.message}")
    return all(j.valid for j in jobs)


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate files; 0 all valid, 1 any invalid, 2 any unreadable."""
    code = EXIT_OK
    if args.verbose:
        print(ccd_info())
    for path in args.files:
        try:
            jobs = load_jobs(_read(path), json_path=Path(path))
        except _Unreadable as exc:
            print(exc, file=sys.stderr)
            code = EXIT_UNREADABLE
            continue
        if _print_problems(path, jobs):
            print(f"{path}: OK ({len(jobs)} job{'s' if len(jobs) != 1 else ''})")
        elif code == EXIT_OK:
            code = EXIT_INVALID
    return code


def _valid_jobs(path: str) -> list | int:
    """Return the file's jobs if all are valid; else print why and return the exit code."""
    try:
        jobs = load_jobs(_read(path), json_path=Path(path))
    except _Unreadable as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNREADABLE
    return jobs if _print_problems(path, jobs) else EXIT_INVALID


def cmd_convert(args: argparse.Namespace) -> int:
    """Convert each job of a file to the requested dialect, one document per job."""
    jobs = _valid_jobs(args.file)
    if isinstance(jobs, int):
        return jobs
    docs = []
    for job in jobs:
        doc, reasons = (job.af3, []) if args.to == R.AF3_DIALECT else af3_to_server(job.af3)
        if doc is None:
            for reason in reasons:
                print(f"{args.file}: job {job.index} ({job.name}): cannot convert: {reason}", file=sys.stderr)
            return EXIT_INVALID
        docs.append((job.name, [doc] if args.to == R.SERVER_DIALECT else doc))
    _write_docs(docs, args.out_dir)
    return EXIT_OK


def _write_docs(docs: list[tuple[str, Any]], out_dir: str | None) -> None:
    """Write documents into `out_dir` (one file per job) or to stdout (JSON Lines when several)."""
    if out_dir is None:
        if len(docs) == 1:
            print(json.dumps(docs[0][1], indent=2))
        else:
            for _, doc in docs:
                print(json.dumps(doc))
        return
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for name, doc in docs:
        stem = safe_filename(name)
        candidate, n = stem, 1
        while candidate in used:
            n += 1
            candidate = f"{stem}_{n}"
        used.add(candidate)
        (folder / f"{candidate}.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        print(folder / f"{candidate}.json")


def cmd_size(args: argparse.Namespace) -> int:
    """Print tokens, bucket and time estimate per job."""
    jobs = _valid_jobs(args.file)
    if isinstance(jobs, int):
        return jobs
    for job in jobs:
        est = estimate_size(_with_user_ccd_text(job.af3, Path(args.file)))
        approx = "~" if est.approximate else ""
        seeds = len(job.af3["modelSeeds"])
        print(f"{job.name}: {approx}{est.tokens} tokens, bucket {est.bucket}, ~{est.seconds_per_seed:.0f} s per seed "
              f"on one A100 80GB, ~{est.seconds_total:.0f} s for {seeds} seed(s)")
        for warning in est.warnings:
            print(f"  warning: {warning}")
    return EXIT_OK


def _with_user_ccd_text(af3: dict[str, Any], json_path: Path) -> dict[str, Any]:
    """Return the job with its userCCDPath file's text inline, so sizes count its components exactly."""
    from services.af3.checks.user_ccd import read_user_ccd_file

    if not af3.get("userCCDPath") or af3.get("userCCD"):
        return af3
    try:
        text = read_user_ccd_file(af3["userCCDPath"], json_path)
    except (OSError, ValueError, EOFError):  # validation already said why; size what can be sized
        return af3
    return {**af3, "userCCD": text} if text else af3


def cmd_fasta(args: argparse.Namespace) -> int:
    """Turn a FASTA file into an AF3 job printed on stdout."""
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{args.file}: cannot read: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        entities = parse_fasta(text, args.type)
    except ValueError:
        print(f"--seeds must be whole numbers separated by commas, got {args.seeds!r}", file=sys.stderr)
        return EXIT_INVALID
    except InvalidInput as exc:
        for p in exc.problems or []:
            print(f"{args.file}: {p.path}: {p.message}", file=sys.stderr)
        if not exc.problems:
            print(f"{args.file}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    doc = {"dialect": R.AF3_DIALECT, "version": 1, "name": args.name, "sequences": entities, "modelSeeds": seeds}
    errors = [p for p in validate(doc) if p.is_error]
    for p in errors:
        print(f"{args.file}: {p.path}: {p.message}", file=sys.stderr)
    if errors:
        return EXIT_INVALID
    print(json.dumps(FoldJob.from_af3(doc).to_af3(), indent=2))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser."""
    parser = argparse.ArgumentParser(prog="python -m services.af3", description="AlphaFold 3 input tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="check input files (exit 0 valid, 1 invalid, 2 unreadable)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--verbose", "-v", action="store_true", help="also say which CCD ligand codes are checked against")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("convert", help="convert every job to one dialect, one document per job")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--to", choices=[R.AF3_DIALECT, R.SERVER_DIALECT], default=R.AF3_DIALECT)
    p.add_argument("--out-dir", metavar="DIR")
    p.set_defaults(func=cmd_convert)
    p = sub.add_parser("size", help="tokens, padding bucket and time estimate per job")
    p.add_argument("file", metavar="FILE")
    p.set_defaults(func=cmd_size)
    p = sub.add_parser("fasta", help="FASTA -> AF3 JSON on stdout")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--name", required=True)
    p.add_argument("--seeds", default="1")
    p.add_argument("--type", choices=["protein", "rna", "dna"], default=None, help="force one type for all records")
    p.set_defaults(func=cmd_fasta)
    return parser


def _configure_ccd() -> bool:
    """Boot as every entry point does, so codes are judged with the env file's CCD; say why not."""
    from services.platform import boot
    from services.platform.errors import SettingsError

    try:
        boot.boot("af3", secret_key="unused")  # a key is not needed here: do not create one
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    args = build_parser().parse_args(argv)
    if not _configure_ccd():
        return EXIT_UNREADABLE
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
