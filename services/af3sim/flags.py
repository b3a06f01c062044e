"""absl-style command-line flags for the simulator: the run_alphafold.py flags that matter, plus its own.

Accepts `--flag=value`, `--flag value`, `--flag` / `--noflag` for booleans and `--flag=false`, like
absl.flags; errors read like absl's ("FATAL Flags parsing error: ...") and exit with status 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

DEFAULT_BUCKETS = "128,256,384,512,768,1024,1280,1536,2048,2560,3072,3584,4096,4608,5120"


class Stage(str, Enum):
    """Where `--fail-at` makes the run fail."""

    STARTUP = "startup"
    DATA_PIPELINE = "data_pipeline"
    MSA = "msa"
    TEMPLATES = "templates"
    FEATURISATION = "featurisation"
    INFERENCE = "inference"
    WRITING = "writing"


class FlagsError(Exception):
    """A command line absl would refuse; the message is what follows 'FATAL Flags parsing error: '."""


@dataclass(frozen=True)
class FlagSpec:
    """One flag: its kind (str, int, float, bool, multi, list, enum), default and help."""

    kind: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()


SPECS: dict[str, FlagSpec] = {
    "json_path": FlagSpec("str", None, "Path to one input JSON (AF3 object or AlphaFold Server list)."),
    "input_dir": FlagSpec("str", None, "Folder whose *.json files are all run, sorted by name."),
    "output_dir": FlagSpec("str", None, "Folder in which job folders are created (required)."),
    "model_dir": FlagSpec("str", "~/models", "Weights folder (the simulator does not read it)."),
    "db_dir": FlagSpec("multi", ["~/public_databases"], "Database folder; repeatable."),
    "run_data_pipeline": FlagSpec("bool", True, "Run the (simulated) MSA and template search."),
    "run_inference": FlagSpec("bool", True, "Run the (simulated) featurisation and model."),
    "num_diffusion_samples": FlagSpec("int", 5, "Samples per seed."),
    "num_seeds": FlagSpec("int", None, "Expand a single input seed S to S..S+n-1."),
    "num_recycles": FlagSpec("int", 10, "Recycles (only scales the simulated inference time)."),
    "buckets": FlagSpec("list", DEFAULT_BUCKETS.split(","), "Token bucket sizes."),
    "force_output_dir": FlagSpec("bool", False, "Reuse a non-empty job folder instead of a timestamped one."),
    "save_terms_of_use": FlagSpec("bool", True, "Write TERMS_OF_USE.md."),
    "save_embeddings": FlagSpec("bool", False, "Write small synthetic embeddings .npz files."),
    "save_distogram": FlagSpec("bool", False, "Write small synthetic distogram .npz files."),
    "compress_large_output_files": FlagSpec("bool", False, "Accepted; the simulator never compresses."),
    "jax_backend": FlagSpec("enum", "gpu", "JAX backend.", ("gpu", "cpu", "mps")),
    "flash_attention_implementation": FlagSpec("enum", "triton", "Attention kernel.", ("triton", "cudnn", "xla")),
    "gpu_device": FlagSpec("int", 0, "Device index."),
    "max_template_date": FlagSpec("str", "2021-09-30", "Template release-date cutoff (YYYY-MM-DD)."),
    "jax_compilation_cache_dir": FlagSpec("str", None, "Persistent compilation cache: a bucket compiled once is "
                                                       "loaded, not compiled, by later processes."),
    "conformer_max_iterations": FlagSpec("int", None, "Accepted and ignored."),
    "resolve_msa_overlaps": FlagSpec("bool", True, "Accepted and ignored."),
    "fix_standalone_glycans": FlagSpec("bool", False, "Accepted and ignored."),
    # -- simulator only --
    "speed": FlagSpec("float", 1.0, "SIMULATOR: pace factor; 1 = realistic AF3 timings, 0 = no sleeping."),
    "fail_at": FlagSpec("enum", None, "SIMULATOR: fail at this stage the way AF3 would.",
                        tuple(s.value for s in Stage)),
    "sim_seed": FlagSpec("int", 0, "SIMULATOR: seed for the synthetic numbers (mixed with each model seed)."),
}
REQUIRED = ("output_dir",)
_TRUE = {"true", "t", "1"}
_FALSE = {"false", "f", "0"}


def _convert(name: str, spec: FlagSpec, text: str) -> Any:
    """Turn a flag's text into its value, raising FlagsError in absl's words."""
    try:
        if spec.kind == "int":
            return int(text)
        if spec.kind == "float":
            return float(text)
    except ValueError as e:
        raise FlagsError(f"flag --{name}={text}: {e}") from None
    if spec.kind == "bool":
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise FlagsError(f"flag --{name}={text}: Non-boolean argument to boolean flag {name}: {text}")
    if spec.kind == "enum" and text not in spec.choices:
        raise FlagsError(f"flag --{name}={text}: value should be one of <{'|'.join(spec.choices)}>")
    if spec.kind == "list":
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def _split(arg: str) -> tuple[str, str | None]:
    """Split '--name=value' into ('name', 'value'); hyphens in names read as underscores."""
    body = arg.lstrip("-")
    name, eq, value = body.partition("=")
    return name.replace("-", "_"), (value if eq else None)


def parse_flags(argv: list[str]) -> dict[str, Any]:
    """Parse `argv` (without the program name) into {flag: value}; raise FlagsError like absl."""
    values = {name: (list(spec.default) if isinstance(spec.default, list) else spec.default)
              for name, spec in SPECS.items()}
    given_multi: set[str] = set()
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-":
            continue  # positional arguments are handed to main(), which ignores them, as AF3's does
        name, value = _split(arg)
        if name in ("help", "helpshort", "helpfull", "h"):
            raise SystemExit(_print_help())
        spec = SPECS.get(name)
        if spec is None and name.startswith("no") and SPECS.get(name[2:], FlagSpec("", None, "")).kind == "bool":
            if value is not None:
                raise FlagsError(f"Boolean negation flag --{name} does not take an argument")
            values[name[2:]] = False
            continue
        if spec is None:
            raise FlagsError(f"Unknown command line flag '{name}'")
        if value is None and spec.kind == "bool":
            values[name] = True
            continue
        if value is None:
            if i >= len(argv):
                raise FlagsError(f"Flag --{name} must have a value other than None.")
            value = argv[i]
            i += 1
        converted = _convert(name, spec, value)
        if spec.kind == "multi":
            values[name] = (values[name] if name in given_multi else []) + [converted]
            given_multi.add(name)
        else:
            values[name] = converted
    for name in REQUIRED:
        if values[name] is None:
            raise FlagsError(f"flag --{name}=None: Flag --{name} must have a value other than None.")
    return values


def _print_help() -> int:
    """Print the flag list (labelled as the simulator) and return exit status 0."""
    print("FoldDeck AF3 SIMULATOR (python -m services.af3sim): behaves like run_alphafold.py, no GPU used.\n")
    for name, spec in SPECS.items():
        print(f"  --{name}: {spec.help}\n    (default: {spec.default!r})")
    return 0
