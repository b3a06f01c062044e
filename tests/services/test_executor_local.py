"""Local executor: line splitting, merged streams, exit status, and killing whole process trees."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from services.running.executors.base import TRUNCATED, LineSplitter, RunSpec, render_command
from services.running.executors.local import LocalExecutor, _group_members, kill_leftovers
from tests.conftest import alive


def run_all(ex: LocalExecutor, timeout: float = 20) -> tuple[list[str], int]:
    lines, deadline = [], time.monotonic() + timeout
    while (code := ex.poll()) is None:
        assert time.monotonic() < deadline, "command did not finish"
        lines += ex.read_lines(0.1)
    return lines, code


def spec(tmp_path: Path, command: str) -> RunSpec:
    (tmp_path / "input.json").write_text("{}")
    return RunSpec(1, 1, tmp_path / "input.json", tmp_path / "attempt-1", command)


def test_splitter_keeps_partial_lines_replaces_bad_utf8_and_cuts_long_lines():
    s = LineSplitter(max_chars=10)
    assert s.feed(b"hel") == []
    assert s.feed(b"lo\nwor") == ["hello"]
    assert s.feed(b"ld\r\n\xff\xfeok\n") == ["world", "\ufffd\ufffdok"]
    assert s.feed(b"0123456789abcdef") == []
    assert s.feed(b"ghij\nnext") == ["0123456789" + TRUNCATED]
    assert s.flush() == ["next"] and s.flush() == []
    # a multi-byte character split across chunks survives
    assert s.feed("é".encode()[:1]) == [] and s.feed("é\n".encode()[1:]) == ["é"]


def test_render_command_quotes_paths():
    cmd = render_command("run --json_path={input} --output_dir={output} --db_dir={db_dir}",
                         "/a b/in.json", "/o", "", "")
    assert cmd == "run --json_path='/a b/in.json' --output_dir=/o --db_dir=''"


def test_stdout_and_stderr_are_merged_in_order(tmp_path):
    script = ("import sys, os\n"
              "print('out 1', flush=True)\n"
              "print('err 1', file=sys.stderr, flush=True)\n"
              "os.write(1, b'bad \\xff bytes\\n' + b'y' * 20000 + b'\\n')\n"
              "os.write(2, b'no newline at end')\n"
              "sys.exit(3)\n")
    (tmp_path / "s.py").write_text(script)
    ex = LocalExecutor()
    ex.start(spec(tmp_path, f"{sys.executable} {tmp_path / 's.py'} {{input}} {{output}}"))
    lines, code = run_all(ex)
    ex.close()
    assert code == 3
    assert lines[:3] == ["out 1", "err 1", "bad \ufffd bytes"]
    assert lines[3].startswith("yyy") and lines[3].endswith(TRUNCATED) and len(lines[3]) < 8300
    assert lines[4:] == ["no newline at end"]


def test_cancel_kills_the_whole_process_tree(tmp_path):
    pids = tmp_path / "pids"
    # A shell, a child that ignores SIGTERM, and a grandchild in the background.
    command = (f"sh -c 'trap \"\" TERM; sleep 300 & echo $! >> {pids}; echo $$ >> {pids}; wait' & "
               f"echo $$ >> {pids}; echo started; wait")
    ex = LocalExecutor()
    ex.start(spec(tmp_path, command))
    deadline = time.monotonic() + 10
    while not (pids.exists() and len(pids.read_text().split()) == 3):
        assert time.monotonic() < deadline
        ex.read_lines(0.05)
    tree = [int(p) for p in pids.read_text().split()]
    assert all(alive(p) for p in tree)
    t0 = time.monotonic()
    ex.cancel(grace=0.5)
    assert time.monotonic() - t0 < 5
    assert ex.proc.returncode is not None  # the shell was reaped: no zombie of ours
    assert not any(alive(p) for p in tree), "a process of the job survived cancel"
    assert _group_members(ex.pid) == []
    ex.close()


def test_leftover_background_processes_die_when_the_job_ends(tmp_path):
    pid_file = tmp_path / "bg"
    ex = LocalExecutor()
    ex.start(spec(tmp_path, f"sleep 300 > /dev/null 2>&1 & echo $! > {pid_file}; echo done"))
    lines, code = run_all(ex)
    ex.close()
    assert (lines, code) == (["done"], 0)
    assert not alive(int(pid_file.read_text()))


def test_missing_program_fails_with_the_shell_message(tmp_path):
    ex = LocalExecutor()
    ex.start(spec(tmp_path, "/nonexistent/run_alphafold --json_path={input} --output_dir={output}"))
    lines, code = run_all(ex)
    ex.close()
    assert code == 127 and "not found" in lines[-1]


def test_kill_leftovers_only_touches_the_marked_attempt(tmp_path):
    ex = LocalExecutor()
    ex.start(spec(tmp_path, "echo go; sleep 300"))
    while not ex.read_lines(0.1):
        pass
    assert kill_leftovers(ex.pid, job_id=1, attempt=2) == 0  # another attempt's marker: untouched
    assert _group_members(ex.pid)
    assert kill_leftovers(ex.pid, job_id=1, attempt=1) >= 1
    deadline = time.monotonic() + 5
    while _group_members(ex.pid) and time.monotonic() < deadline:
        ex.proc.poll()
        time.sleep(0.05)
    assert _group_members(ex.pid) == []
    ex.close()
    assert ex.proc.returncode == -9
