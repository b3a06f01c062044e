"""A person's cluster identity (issue 25): saved by an admin, checked, and carried by every Slurm job's script."""
from __future__ import annotations

import pytest

from services.hosts import Host, SlurmConfig, load_hosts
from services.operations import admin
from services.people import cluster_identity
from services.people.cluster_identity import ClusterIdentity
from services.platform.errors import InvalidInput, PermissionDenied
from services.running.executors.base import ExecutorError
from services.running.executors.slurm_cluster import Cluster
from services.running.executors.slurm_script import batch_script


def test_an_admin_maps_a_person_and_bad_values_are_refused_naming_the_field(conn, admin, alice, bob):  # noqa: F811
    assert cluster_identity.get(conn, alice.id) == ClusterIdentity("alice")
    saved = admin_set(conn, admin, alice.id, cluster_user="alice_h", account="lab-a")
    assert saved == ClusterIdentity("alice", "alice_h", "lab-a") and saved.mapped
    with pytest.raises(InvalidInput) as err:
        admin_set(conn, admin, alice.id, cluster_user="Alice Smith", account="lab a; rm", key_file="keys/a")
    assert [p.split(" ")[0] for p in err.value.problems] == ["cluster", "account", "key"]
    assert cluster_identity.get(conn, alice.id).account == "lab-a"  # nothing was saved
    with pytest.raises(PermissionDenied):
        admin_set(conn, bob, alice.id, account="stolen")
    assert cluster_identity.cluster_users(conn) == ["alice_h"]
    admin_set(conn, admin, alice.id)  # all empty: back to the host's own user and account
    assert not cluster_identity.get(conn, alice.id).mapped and cluster_identity.cluster_users(conn) == []


def admin_set(conn, actor, user_id, **fields):
    return admin.set_cluster_identity(conn, actor, user_id, **fields)


def test_the_batch_script_names_the_person_and_charges_their_account():
    host = Host(name="c", work_dir="/shared", kind="slurm", slurm=SlurmConfig(partition="gpu", account="lab",
                                                                              wckey=True))
    mapped = batch_script(host, "n", "/shared/r", "cmd", person=ClusterIdentity("alice", account="lab-a"))
    assert "#SBATCH --account=lab-a" in mapped and "#SBATCH --account=lab\n" not in mapped
    assert "#SBATCH --comment=folddeck:alice" in mapped and "#SBATCH --wckey=alice" in mapped
    unmapped = batch_script(host, "n", "/shared/r", "cmd", person=ClusterIdentity("bob"))
    assert "#SBATCH --account=lab\n" in unmapped and "#SBATCH --comment=folddeck:bob" in unmapped
    plain = Host(name="c", work_dir="/shared", kind="slurm", slurm=SlurmConfig())
    assert "--wckey" not in batch_script(plain, "n", "/r", "cmd", person=ClusterIdentity("bob"))


def test_a_host_that_runs_jobs_as_their_people_refuses_an_unmapped_person(settings):
    settings.hosts_path.parent.mkdir(parents=True, exist_ok=True)
    settings.hosts_path.write_text('[[host]]\nname = "c"\nkind = "slurm"\nwork_dir = "/shared"\naddress = "login1"\n'
                                   'user = "folddeck"\nsubmit_as = "sudo"\n')
    host = load_hosts(settings)[1]
    assert (host.address, host.user, host.remote_slurm, host.slurm.shared_storage) == ("login1", "folddeck", True,
                                                                                       False)
    c = Cluster(host, settings)
    with pytest.raises(ExecutorError, match="runs each job as its person's own cluster user, and bob has no cluster"):
        c.access(ClusterIdentity("bob", account="x"))
    assert c.access(ClusterIdentity("bob", cluster_user="bob_h")).sudo_user == "bob_h"


def test_the_command_line_maps_a_person_and_refuses_a_bad_account(settings, conn, alice, monkeypatch, capsys):
    monkeypatch.setenv("FOLDDECK_DATA_DIR", str(settings.data_dir))
    assert cluster_identity.main(["set", "alice", "--account", "lab42-alice", "--cluster-user", "asmith"]) == 0
    assert cluster_identity.get(conn, alice.id) == ClusterIdentity("alice", "asmith", "lab42-alice")
    assert cluster_identity.main(["set", "alice", "--account", "a b"]) == 2
    assert "account 'a b': use letters" in capsys.readouterr().err
    assert cluster_identity.get(conn, alice.id).account == "lab42-alice"
