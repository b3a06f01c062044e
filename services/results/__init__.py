"""What a finished job left in its output folder: the files, every sample's scores and arrays.

Read only when a page shows a finished job (never on a poll tick); every read is bounded.
Modules, each one noun:
    files        the folder's files (a capped listing) and safe paths for downloads
    folder       one AF3 job folder: its layout and each sample's files (`describe_folder`)
    scores       every sample's scores, best first, and the warnings they carry
    confidences  one sample's PAE and pLDDT, reduced for plotting and cached

The public names are re-exported here, so callers write `from services import results;
results.describe_folder(...)` and need not know which module holds what.
"""
from __future__ import annotations

from services.results.confidences import (
    Confidences,
    Token,
    array_text,
    best_confidences,
    sample_confidences,
)
from services.results.files import OutputFile, job_folders, list_files, relative_to_output, resolve_file
from services.results.folder import (
    FolderContents,
    Layout,
    SampleFiles,
    as_number,
    describe_all,
    describe_folder,
    find_sample,
)
from services.results.scores import Results, SampleScore, read_results, sample_scores, trouble

__all__ = [
    "Confidences", "FolderContents", "Layout", "OutputFile", "Results", "SampleFiles", "SampleScore", "Token",
    "array_text", "as_number", "best_confidences", "describe_all", "describe_folder", "find_sample", "job_folders",
    "list_files", "read_results", "relative_to_output", "resolve_file", "sample_confidences", "sample_scores",
    "trouble",
]
