"""The engines FoldDeck knows, which of them a job may use, and the command each runs with.

`refuse` is the one rule for "can this engine run this job": the submit path, the API and the
builder call it, so a refusal reads the same everywhere and nothing is silently dropped.
"""
from __future__ import annotations

from services.af3.model import FoldJob
from services.engines import af3, logwords
from services.engines.base import Engine
from services.engines.boltz import inputs as boltz_inputs
from services.engines.boltz import reader as boltz_reader
from services.engines.chai import inputs as chai_inputs
from services.engines.chai import reader as chai_reader
from services.engines.openfold3 import inputs as of3_inputs
from services.engines.openfold3 import reader as of3_reader
from services.engines.protenix import inputs as protenix_inputs
from services.engines.protenix import reader as protenix_reader
from services.platform.errors import InvalidInput
from services.platform.settings import Settings

AF3 = "af3"
ENGINES: dict[str, Engine] = {e.name: e for e in (
    Engine(AF3, "AlphaFold 3", "non-commercial (Google DeepMind terms)", "af3_command", af3.refusals, None,
           af3.read_outputs, logwords.AF3),
    Engine("boltz", "Boltz-2", "MIT", "boltz_command", boltz_inputs.refusals, boltz_inputs.write_input,
           boltz_reader.read_outputs, logwords.BOLTZ),
    Engine("chai", "Chai-1", "Apache-2.0", "chai_command", chai_inputs.refusals, chai_inputs.write_input,
           chai_reader.read_outputs, logwords.CHAI, takes_msas=False),
    Engine("protenix", "Protenix", "Apache-2.0", "protenix_command", protenix_inputs.refusals,
           protenix_inputs.write_input, protenix_reader.read_outputs, logwords.PROTENIX),
    Engine("openfold3", "OpenFold3", "Apache-2.0", "openfold3_command", of3_inputs.refusals,
           of3_inputs.write_input, of3_reader.read_outputs, logwords.OPENFOLD3),
)}


def get(name: str) -> Engine:
    """Return the engine called `name`.

    Raises:
        InvalidInput: no engine has that name.
    """
    engine = ENGINES.get((name or AF3).strip().lower())
    if engine is None:
        raise InvalidInput(f"There is no engine called {name!r}.", [f"known engines: {', '.join(ENGINES)}"])
    return engine


def command(settings: Settings, name: str, host_command: str = "") -> str:
    """Return the command template `name` runs with: the host's own, else the setting (may be "")."""
    return host_command or getattr(settings, get(name).setting, "")


STAND_IN = "-m services.engines.sims"  # the stand-ins' command (services.engines.sims)


def available(settings: Settings, name: str) -> bool:
    """True when this installation runs `name`: it has a command, and a stand-in only beside the AF3 simulator.

    A lab that set a real FOLDDECK_AF3_COMMAND and left Boltz-2 or Chai-1 at their stand-ins must not get
    made-up predictions next to real ones: those engines are then not offered until their command is set.
    """
    template = command(settings, name)
    return bool(template) and (STAND_IN not in template or settings.uses_simulator)


def offered(settings: Settings) -> list[Engine]:
    """Return the engines this installation can run (`available`), in the registry's order."""
    return [e for e in ENGINES.values() if available(settings, e.name)]


def refuse(job: FoldJob, names: list[str], settings: Settings | None = None) -> None:
    """Refuse the job unless every engine in `names` can run all of it (and, with `settings`, is offered).

    Raises:
        InvalidInput: one problem per engine and reason ("Boltz-2: ..."); nothing is queued.
    """
    if not names:
        raise InvalidInput("Pick at least one engine.", ["no engine was picked"])
    problems = []
    for name in dict.fromkeys(names):
        engine = get(name)
        if settings is not None and not available(settings, engine.name):
            problems.append(f"{engine.label}: not offered here (set its command template, "
                            f"FOLDDECK_{engine.setting.upper()}).")
            continue
        problems += [f"{engine.label}: {why}" for why in engine.refusals(job)]
    if problems:
        raise InvalidInput("An engine you picked cannot run this job as written; nothing was submitted.", problems)
