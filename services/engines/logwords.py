"""Each engine's log: the lines that start its stages and the lines that explain why it failed.

AlphaFold 3's own words stay in `services.af3.runlog` (progress and failures, read by the worker);
the patterns here are the other engines' messages as their command lines print them.
"""
from __future__ import annotations

import re

from services.engines.base import LogWords

_OOM = (re.compile(r"CUDA out of memory|OutOfMemoryError"),
        "the GPU ran out of memory: try a smaller job or a host with a larger GPU")
_NO_GPU = (re.compile(r"No CUDA GPUs are available|Found no NVIDIA driver"), "the host has no usable GPU")


def _c(pattern: str) -> re.Pattern:
    return re.compile(pattern)


AF3 = LogWords(stages=((_c(r"Running data pipeline"), "data pipeline"),
                       (_c(r"Running model inference"), "inference"),
                       (_c(r"Writing outputs"), "writing outputs")),
               failures=(_OOM,))
BOLTZ = LogWords(stages=((_c(r"Checking input data"), "checking input"),
                         (_c(r"Processing input data|Calling MSA server"), "MSA and features"),
                         (_c(r"Running structure prediction|Predicting DataLoader"), "structure prediction"),
                         (_c(r"Running affinity prediction"), "affinity prediction")),
                 failures=((_c(r"Missing MSA's in input and --use_msa_server flag not set"),
                            "a chain has no MSA and the command does not ask Boltz to search (--use_msa_server)"),
                           (_c(r"Number of failed examples: [1-9]"), "Boltz could not predict the input"),
                           _OOM, _NO_GPU))
CHAI = LogWords(stages=((_c(r"Generating MSAs|MSA server"), "MSA search"),
                        (_c(r"Running trunk"), "trunk"),
                        (_c(r"Running diffusion"), "diffusion"),
                        (_c(r"Scoring|Writing output"), "scoring")),
                failures=((_c(r"Unknown residue|Invalid SMILES|could not parse"), "Chai-1 could not read an entity"),
                          _OOM, _NO_GPU))
PROTENIX = LogWords(stages=((_c(r"MSA search|msa"), "MSA search"),
                            (_c(r"Running inference|Start inference"), "inference"),
                            (_c(r"Dumping|Saving"), "writing outputs")),
                    failures=(_OOM, _NO_GPU))
OPENFOLD3 = LogWords(stages=((_c(r"ColabFold|MSA"), "MSA search"),
                             (_c(r"Predicting|predict_step"), "inference"),
                             (_c(r"Writing|Saved"), "writing outputs")),
                     failures=(_OOM, _NO_GPU))
