#!/usr/bin/env bash
# Throw-away OpenSSH server on loopback for FoldDeck tests (Debian 12, root, no systemd).
# Adapted from the team recipe: own sshd_config, host key, authorized_keys and a fake
# `nvidia-smi` first on the remote PATH; the system /etc/ssh/sshd_config is never read or changed.
#
#   bash sshd_ci.sh start   # prints the connection facts (host, port, user, key, known_hosts)
#   bash sshd_ci.sh stop
#
# Env knobs: SSHD_ROOT (default /tmp/sshd-ci), SSHD_PORT (2222),
#            SSHD_USER (root; any other name is created if missing, home $SSHD_ROOT/home,
#                       and removed again by `stop` -- a clean shell, ~3x faster per command
#                       than root's pyenv-laden .bashrc),
#            FAKE_GPUS (2: number of GPUs the fake nvidia-smi reports),
#            SSHD_EXTRA_USERS (existing users who may log in too, with any key in authorized_keys)
set -euo pipefail

SSHD_ROOT=${SSHD_ROOT:-/tmp/sshd-ci}
SSHD_PORT=${SSHD_PORT:-2222}
SSHD_USER=${SSHD_USER:-root}
FAKE_GPUS=${FAKE_GPUS:-2}

log() { printf '[sshd_ci %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

install_pkgs() {
  [ -x /usr/sbin/sshd ] && return
  log "apt-get install openssh-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # postinst generates /etc/ssh host keys (unused here) and its "start" is refused by
  # policy-rc.d; it also upgrades openssh-client to the same version.
  apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
}

write_fake_nvidia_smi() {
  cat >"$SSHD_ROOT/bin/nvidia-smi" <<'EOF'
#!/bin/sh
# Fake nvidia-smi for tests: answers --query-gpu=...,--format=csv[,noheader][,nounits]
# like the real one (values are deterministic per GPU, load moves with the clock), and
# --query-compute-apps=pid,used_memory,gpu_uuid,process_name (any subset, same format options)
# from @SSHD_ROOT@/compute_apps.csv (lines "pid,used_mib,gpu_uuid,process_name"; none when absent).
# FAKE_NVIDIA_SMI_FAIL=1 (env or file @SSHD_ROOT@/nvidia_smi_fail) -> a node whose driver is gone.
# GPU count: env FAKE_GPUS, else file @SSHD_ROOT@/fake_gpus, else FAKE_GPUS given to `start`.
if [ "${FAKE_NVIDIA_SMI_FAIL:-0}" = 1 ] || [ -e "@SSHD_ROOT@/nvidia_smi_fail" ]; then
  echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running." >&2
  exit 9
fi
n=${FAKE_GPUS:-$(cat "@SSHD_ROOT@/fake_gpus" 2>/dev/null || echo @FAKE_GPUS@)}
query= fmt= apps=
for a in "$@"; do
  case $a in
    --query-gpu=*) query=${a#--query-gpu=} ;;
    --query-compute-apps=*) apps=${a#--query-compute-apps=} ;;
    --format=*) fmt=${a#--format=} ;;
  esac
done
if [ -n "$apps" ]; then
  exec awk -v q="$apps" -v fmt="$fmt" 'BEGIN {
    noheader = fmt ~ /noheader/; nounits = fmt ~ /nounits/
    nf = split(q, f, ",")
    col["pid"] = 1; col["used_memory"] = 2; col["used_gpu_memory"] = 2; col["gpu_uuid"] = 3; col["process_name"] = 4
    for (j = 1; j <= nf; j++)
      if (!(f[j] in col)) { print "Field \"" f[j] "\" is not a valid field to query." > "/dev/stderr"; exit 2 }
    if (!noheader) {
      line = ""
      for (j = 1; j <= nf; j++) {
        h = f[j]; if (h == "used_memory") h = "used_gpu_memory"
        if (!nounits && col[f[j]] == 2) h = h " [MiB]"
        line = line (j > 1 ? ", " : "") h
      }
      print line
    }
    file = "@SSHD_ROOT@/compute_apps.csv"
    while ((getline row < file) > 0) {
      if (row == "") continue
      split(row, v, ",")
      line = ""
      for (j = 1; j <= nf; j++) {
        val = v[col[f[j]]]; if (!nounits && col[f[j]] == 2) val = val " MiB"
        line = line (j > 1 ? ", " : "") val
      }
      print line
    }
  }'
fi
if [ -z "$query" ]; then
  echo "fake nvidia-smi: only --query-gpu=... / --query-compute-apps=... --format=csv[,noheader][,nounits] are implemented" >&2
  exit 2
fi
exec awk -v q="$query" -v fmt="$fmt" -v n="$n" -v t="$(date +%s)" 'BEGIN {
  noheader = fmt ~ /noheader/; nounits = fmt ~ /nounits/
  nf = split(q, f, ",")
  split("index name uuid pci.bus_id utilization.gpu utilization.memory memory.used memory.total memory.free temperature.gpu power.draw power.limit clocks.sm driver_version", known, " ")
  for (k in known) ok[known[k]] = 1
  for (j = 1; j <= nf; j++)
    if (!(f[j] in ok)) { print "Field \"" f[j] "\" is not a valid field to query." > "/dev/stderr"; exit 2 }
  unit["utilization.gpu"] = " %"; unit["memory.used"] = " MiB"; unit["memory.total"] = " MiB"
  unit["memory.free"] = " MiB"; unit["power.draw"] = " W"; unit["power.limit"] = " W"
  unit["clocks.sm"] = " MHz"
  if (!noheader) {
    line = ""
    for (j = 1; j <= nf; j++) {
      h = f[j]; if (!nounits && (f[j] in unit)) h = h " [" substr(unit[f[j]], 2) "]"
      line = line (j > 1 ? ", " : "") h
    }
    print line
  }
  for (i = 0; i < n; i++) {
    util = (i * 37 + int(t / 5) * 13) % 101
    used = 512 + (i * 9973 + int(t / 5) * 1021) % 80000
    v["index"] = i; v["name"] = "NVIDIA A100-SXM4-80GB"
    v["uuid"] = sprintf("GPU-%08x-1111-2222-3333-%012d", 3735928559 + i, i)
    v["pci.bus_id"] = sprintf("00000000:%02X:00.0", 7 + i * 8)
    v["utilization.gpu"] = util; v["utilization.memory"] = int(util / 2)
    v["memory.used"] = used; v["memory.total"] = 81920; v["memory.free"] = 81920 - used
    v["temperature.gpu"] = 30 + int(util / 3); v["power.draw"] = sprintf("%.2f", 60 + util * 3.4)
    v["power.limit"] = "400.00"; v["clocks.sm"] = 1410; v["driver_version"] = "550.54.15"
    line = ""
    for (j = 1; j <= nf; j++) {
      val = v[f[j]]; if (!nounits && (f[j] in unit)) val = val unit[f[j]]
      line = line (j > 1 ? ", " : "") val
    }
    print line
  }
}'
EOF
  sed -i -e "s/@FAKE_GPUS@/$FAKE_GPUS/" -e "s|@SSHD_ROOT@|$SSHD_ROOT|g" "$SSHD_ROOT/bin/nvidia-smi"
  chmod 0755 "$SSHD_ROOT/bin/nvidia-smi"
}

start() {
  install_pkgs
  if [ -s "$SSHD_ROOT/sshd.pid" ] && kill -0 "$(cat "$SSHD_ROOT/sshd.pid")" 2>/dev/null; then
    log "already running"; facts; return
  fi
  # StrictModes checks every directory up to authorized_keys: /tmp itself is 1777, which
  # fails ("bad ownership or modes for directory /tmp") -> StrictModes no (test-only box).
  install -d -m 0755 "$SSHD_ROOT" "$SSHD_ROOT/bin"
  if ! getent passwd "$SSHD_USER" >/dev/null; then
    log "creating user $SSHD_USER"
    useradd -M -d "$SSHD_ROOT/home" -s /bin/bash "$SSHD_USER"
    install -d -o "$SSHD_USER" -g "$SSHD_USER" -m 0755 "$SSHD_ROOT/home"
    echo "$SSHD_USER" >"$SSHD_ROOT/.created_user"
  fi
  # useradd leaves the password field "!" (locked); with UsePAM no, sshd then refuses even a
  # valid key ("User x not allowed because account is locked"). "*" = no password, not locked.
  [ "$SSHD_USER" = root ] || [ "$(getent shadow "$SSHD_USER" | cut -d: -f2)" != '!' ] \
    || usermod -p '*' "$SSHD_USER"
  [ -f "$SSHD_ROOT/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C ci-host -f "$SSHD_ROOT/host_ed25519"
  [ -f "$SSHD_ROOT/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C ci-client -f "$SSHD_ROOT/client_ed25519"
  cp "$SSHD_ROOT/client_ed25519.pub" "$SSHD_ROOT/authorized_keys"
  chmod 0644 "$SSHD_ROOT/authorized_keys"
  # known_hosts line for clients that verify the host key (paramiko load_host_keys / ssh -o)
  echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_ROOT/host_ed25519.pub")" >"$SSHD_ROOT/known_hosts"
  write_fake_nvidia_smi
  cat >"$SSHD_ROOT/sshd_config" <<EOF
# generated by sshd_ci.sh -- loopback-only test sshd
Port $SSHD_PORT
ListenAddress 127.0.0.1
AddressFamily inet
HostKey $SSHD_ROOT/host_ed25519
PidFile $SSHD_ROOT/sshd.pid
AuthorizedKeysFile $SSHD_ROOT/authorized_keys
AllowUsers $SSHD_USER ${SSHD_EXTRA_USERS:-}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTunnel no
# fake nvidia-smi first on PATH of every session (SetEnv wins over sshd's default PATH)
SetEnv PATH=$SSHD_ROOT/bin:/usr/local/bin:/usr/bin:/bin
Subsystem sftp /usr/lib/openssh/sftp-server
MaxStartups 100:30:200
MaxSessions 50
LogLevel INFO
EOF
  install -d -m 0755 /run/sshd          # privilege-separation dir; normally made by systemd/init
  /usr/sbin/sshd -t -f "$SSHD_ROOT/sshd_config"
  # sshd must be started by absolute path ("sshd re-exec requires execution with an absolute
  # path"); it daemonizes and writes PidFile. -E: log to a file instead of syslog (none here).
  /usr/sbin/sshd -f "$SSHD_ROOT/sshd_config" -E "$SSHD_ROOT/sshd.log"
  for _ in $(seq 100); do
    ss -Hltn "sport = :$SSHD_PORT" | grep -q . && break
    sleep 0.05
  done
  ss -Hltn "sport = :$SSHD_PORT" | grep -q "127.0.0.1:$SSHD_PORT" || die "sshd not listening (see $SSHD_ROOT/sshd.log)"
  log "sshd pid $(cat "$SSHD_ROOT/sshd.pid") on 127.0.0.1:$SSHD_PORT"
  facts
}

facts() {  # connection facts for the test suite, KEY=VALUE on stdout
  cat <<EOF
SSH_TEST_HOST=127.0.0.1
SSH_TEST_PORT=$SSHD_PORT
SSH_TEST_USER=$SSHD_USER
SSH_TEST_KEY=$SSHD_ROOT/client_ed25519
SSH_TEST_KNOWN_HOSTS=$SSHD_ROOT/known_hosts
EOF
}

stop() {
  local pid u
  if [ -s "$SSHD_ROOT/sshd.pid" ]; then
    pid=$(cat "$SSHD_ROOT/sshd.pid")
    if kill -0 "$pid" 2>/dev/null; then
      log "stopping sshd (pid $pid)"; kill "$pid"    # listener only; open sessions end on their own
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$SSHD_ROOT/sshd.pid"
  fi
  if [ -s "$SSHD_ROOT/.created_user" ]; then        # only a user this script created
    u=$(cat "$SSHD_ROOT/.created_user")
    if [ -n "$u" ] && [ "$u" != root ]; then log "removing user $u"; userdel "$u" || true; fi
    rm -f "$SSHD_ROOT/.created_user"
  fi
}

case ${1:-start} in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
