"""The README's Python API example, run as written against a live FoldDeck: a script with a token
submits a job and follows its log with since=N until it ends."""
from __future__ import annotations

import re
import subprocess
import sys
import threading

from werkzeug.serving import make_server

from services.people import api_tokens, users
from services.platform import db
from tests.conftest import ROOT

SIM = f"{sys.executable} -m services.af3sim --json_path={{input}} --output_dir={{output}} --speed=0"


def readme_python_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## REST API"):text.index("## Notifications")]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_python_example_submits_and_follows_the_log(app, settings, running_worker):
    conn = db.connect(settings.db_path)
    alice = users.get_by_name(conn, "alice")
    secret = api_tokens.create_token(conn, alice.id, "readme", "write")[1]
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    running_worker(settings.with_overrides(af3_command=SIM))
    try:
        code = readme_python_example().replace("http://127.0.0.1:8050", f"http://127.0.0.1:{server.server_port}")
        code = code.replace('"fdk_..."', repr(secret))
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                             env={"PATH": "/usr/bin:/bin", "NO_PROXY": "*"})
    finally:
        server.shutdown()
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert "Job succeeded." in lines and lines[-1].startswith("succeeded [{")
    assert lines.count("Job succeeded.") == 1  # since=N: no line printed twice
