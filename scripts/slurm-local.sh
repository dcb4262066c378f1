#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for tests/study_slurm.rs and for trying
# `optlab study` on a real Slurm: munge, slurmctld and slurmd on localhost.
#
#   sudo scripts/slurm-local.sh          start it (or check that it runs) and wait until
#                                        `sinfo` shows the node idle
#   sudo scripts/slurm-local.sh stop     stop the daemons this script started
#
# Needs root and Debian's packages: apt-get install -y slurm-wlm munge.
# The configuration is minimal: one node called localhost with this machine's cores and
# memory, one partition `debug` (the default), no cgroups (proctrack/linuxproc,
# task/none), no accounting. State and logs go to /var/spool/slurm-optlab and
# /var/log/slurm-optlab. An existing /etc/slurm/slurm.conf that this script did not write
# is left alone (the script stops with a message).
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# written by optlab's scripts/slurm-local.sh"
STATE=/var/spool/slurm-optlab
LOGS=/var/log/slurm-optlab

say() { echo "slurm-local: $*"; }
die() { echo "slurm-local: $*" >&2; exit 1; }

stop() {
  for name in slurmd slurmctld; do
    if [ -f "$STATE/$name.pid" ]; then
      kill "$(cat "$STATE/$name.pid")" 2>/dev/null || true
      rm -f "$STATE/$name.pid"
    fi
  done
  if [ -f /run/munge/munged.pid ]; then
    kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
  fi
  say "stopped"
}

if [ "${1:-}" = stop ]; then
  stop
  exit 0
fi

[ "$(id -u)" = 0 ] || die "needs root (it starts munged, slurmctld and slurmd)"
for tool in munged slurmctld slurmd sinfo sbatch; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing: apt-get install -y slurm-wlm munge"
done

running() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }
idle() {
  running slurmctld && running slurmd &&
    sinfo -h -N -n localhost -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'
}

if idle; then
  say "already running (node localhost is up)"
  exit 0
fi

# ---- munge: the key comes with Debian's package; make one if it is missing
mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
chmod 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! munge -n >/dev/null 2>&1; then
  runuser -u munge -- munged
  for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n >/dev/null 2>&1 || die "munged did not start (see /var/log/munge/munged.log)"
fi

# ---- slurm.conf for one node
if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
  die "$CONF exists and was not written by this script; leaving it alone"
fi
cpus=$(nproc)
mem_mb=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d" "$LOGS"
cat >"$CONF" <<EOF
$MARK
ClusterName=optlab-local
SlurmctldHost=localhost(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
SchedulerParameters=sched_min_interval=100000
MpiDefault=none
ReturnToService=2
MaxArraySize=100001
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=10
Waittime=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
# ---- the daemons (fresh state: -c clears old jobs)
running slurmctld || slurmctld -c
running slurmd || slurmd -N localhost

for _ in $(seq 100); do
  if idle; then
    say "up: node localhost ($cpus CPUs, $mem_mb MB) idle in partition debug"
    exit 0
  fi
  # a node that came back down or drained is returned to service
  scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true
  sleep 0.3
done
say "the node did not become idle; last lines of the logs:" >&2
tail -n 5 "$LOGS/slurmctld.log" "$LOGS/slurmd.log" >&2 || true
sinfo -N >&2 || true
exit 1
