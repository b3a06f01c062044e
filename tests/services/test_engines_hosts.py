"""Which engines a host offers (issue 29): the hosts file's `engines` table, and the claim that follows it."""
from __future__ import annotations

import pytest

from services.hosts import load_hosts, local_host
from services.platform.errors import SettingsError

ENTRY = 'name = "gpu1"\naddress = "gpu1.example"\nuser = "af"\n'


def _hosts(settings, body: str):
    settings.hosts_path.write_text(body)
    return load_hosts(settings)


def test_engines_table_names_what_a_host_runs_and_its_commands(settings):
    (_local, gpu1) = _hosts(settings, "[[host]]\n" + ENTRY +
                            'engines = { af3 = "", Boltz = "boltz predict {input} --out_dir {output}" }\n')
    assert gpu1.offers("af3") and gpu1.offers("boltz") and not gpu1.offers("chai")
    assert gpu1.engine_command("boltz") == "boltz predict {input} --out_dir {output}"
    assert gpu1.engine_command("af3") == ""  # "" = FOLDDECK_AF3_COMMAND / the host's af3_command


def test_without_the_table_a_remote_host_runs_alphafold3_only_and_this_machine_every_engine(settings):
    (_local, gpu1) = _hosts(settings, "[[host]]\n" + ENTRY)
    assert gpu1.offers("af3") and not gpu1.offers("boltz")
    assert local_host(settings).offers("boltz") and local_host(settings).offers("af3")


@pytest.mark.parametrize("table, words", [('engines = ["boltz"]', "must be a table"),
                                          ('engines = { boltz = "boltz predict" }', "{input} and {output}")])
def test_a_bad_engines_table_is_refused_with_the_fix(settings, table, words):
    with pytest.raises(SettingsError, match=words.replace("{", r"\{").replace("}", r"\}")):
        _hosts(settings, "[[host]]\n" + ENTRY + table + "\n")


def test_a_job_no_host_runs_says_so_with_the_claims_own_rule(settings, conn, alice):
    import json
    from pathlib import Path

    from services import jobs
    from services.hosts import Host
    from services.jobs.rules import waiting

    sample = json.loads((Path(__file__).resolve().parents[2] / "data/samples/protein_ligand_ion.json").read_text())
    (job,) = jobs.submit_with_engines(conn, settings, alice, sample, ["boltz"])
    only_af3 = Host(name="gpu1", address="gpu1.example", user="af", slots=1)
    why = waiting.reasons(conn, settings, [job], hosts=[only_af3])[job.id]
    assert "no host runs Boltz-2" in why and "hosts.toml" in why
    offering = Host(name="gpu2", address="gpu2.example", user="af", slots=1, engines=(("boltz", ""),))
    assert "no host runs" not in waiting.reasons(conn, settings, [job], hosts=[offering])[job.id]


def test_a_slurm_host_takes_the_same_engines_table(settings):
    slurm = '[[host]]\nname = "hpc"\nkind = "slurm"\nwork_dir = "/shared/folddeck"\n'
    (_local, hpc) = _hosts(settings, slurm + 'engines = { af3 = "", chai = "chai fold {input} {output}" }\n')
    assert hpc.is_slurm and hpc.offers("chai") and not hpc.offers("boltz")
    assert hpc.engine_command("chai") == "chai fold {input} {output}"
    (_local, plain) = _hosts(settings, slurm)
    assert plain.offers("af3") and not plain.offers("chai")
    with pytest.raises(SettingsError, match="{input} and {output}"):
        _hosts(settings, slurm + 'engines = { chai = "chai fold" }\n')
