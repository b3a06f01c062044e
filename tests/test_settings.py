import os
import stat

import pytest

from services.platform.errors import SettingsError
from services.platform.settings import PARSERS, env_name, load_settings


def test_defaults(tmp_path):
    s = load_settings(environ={"FOLDDECK_DATA_DIR": str(tmp_path)}, dotenv=None)
    assert (s.host, s.port, s.cookie_secure, s.log_level) == ("127.0.0.1", 8050, False, "INFO")
    assert s.db_path == tmp_path / "folddeck.db"
    assert "{input}" in s.af3_command and "services.af3sim" in s.af3_command


def test_secret_key_generated_once_with_mode_0600(tmp_path):
    a = load_settings(environ={"FOLDDECK_DATA_DIR": str(tmp_path)}, dotenv=None)
    b = load_settings(environ={"FOLDDECK_DATA_DIR": str(tmp_path)}, dotenv=None)
    assert a.secret_key == b.secret_key and len(a.secret_key) == 64
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600


def test_env_secret_key_wins_and_writes_nothing(tmp_path):
    s = load_settings(environ={"FOLDDECK_DATA_DIR": str(tmp_path), "FOLDDECK_SECRET_KEY": "k" * 40}, dotenv=None)
    assert s.secret_key == "k" * 40 and not (tmp_path / "secret_key").exists()


def test_dotenv_is_read_and_environment_overrides_it(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"FOLDDECK_PORT=9000\nFOLDDECK_LOG_LEVEL=debug\nFOLDDECK_DATA_DIR={tmp_path}\n")
    s = load_settings(environ={"FOLDDECK_PORT": "9100"}, dotenv=env_file)
    assert (s.port, s.log_level) == (9100, "DEBUG")


@pytest.mark.parametrize("name, value, accepted", [
    ("FOLDDECK_PORT", "eighty", "integer from 1 to 65535"),
    ("FOLDDECK_PORT", "70000", "integer from 1 to 65535"),
    ("FOLDDECK_COOKIE_SECURE", "maybe", "true, false"),
    ("FOLDDECK_LOG_LEVEL", "loud", "DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("FOLDDECK_WORKER_SHUTDOWN", "explode", "wait, requeue"),
    ("FOLDDECK_AF3_COMMAND", "run_alphafold.py --json_path=x", "{input} and {output}"),
    ("FOLDDECK_DISK_MOUNTS", "data", "absolute paths"),
])
def test_bad_value_names_variable_and_accepted_values(tmp_path, name, value, accepted):
    with pytest.raises(SettingsError) as exc:
        load_settings(environ={"FOLDDECK_DATA_DIR": str(tmp_path), name: value}, dotenv=None)
    assert name in str(exc.value) and accepted in str(exc.value)


def test_readme_lists_every_setting():
    readme = (os.path.dirname(__file__) + "/../README.md")
    text = open(readme).read()
    missing = [env_name(f) for f in PARSERS if env_name(f) not in text]
    assert not missing, f"README settings table lacks {missing}"
