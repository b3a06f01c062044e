"""Upload: a file that is not JSON is refused by name, and the per-drop figure is file bytes, rounded down."""
from dash_app import upload_state as U

MB = 1024 * 1024


def test_non_json_held_back_by_the_browser_is_listed_with_a_reason():
    [fasta] = U.read_batch([{"name": "heavy.fasta", "bytes": 20, "contents": None, "skipped": "type"}], MB, MB)
    assert fasta.rows == [] and fasta.error.startswith("Refused: heavy.fasta is not a .json file.")
    sent = U.read_uploads(["heavy.fasta"], ["data:text/plain;base64,PmEKTUsK"], MB)[0]
    assert sent.error == fasta.error  # the same words whichever side caught it


def test_drop_capacity_is_honest_and_round():
    request = 21 * MB - 256 * 1024  # the default: MAX_CONTENT_LENGTH minus the envelope's headroom
    drop = U.drop_capacity(request)
    assert U.human_bytes(drop) == "15 MB" and drop * 4 / 3 <= request  # base64: what really fits, not 20.8 MB
    assert U.human_bytes(U.drop_capacity(44 * 1024)) == "33 KB"
