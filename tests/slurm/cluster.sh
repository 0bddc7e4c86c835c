#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine (Debian's slurm-wlm + munge), for `make test-slurm`.
#   tests/slurm/cluster.sh up     install if needed (root, apt), write a config under $SLURM_DIR, start munged,
#                                 slurmctld and slurmd, wait until the node is idle; prints `export SLURM_CONF=...`
#   tests/slurm/cluster.sh down   stop the daemons it started
# Everything lives under $SLURM_DIR (default /tmp/fer-slurm); nothing outside it is changed except the munge
# key (/etc/munge/munge.key, created when missing) and the packages.
set -euo pipefail
SLURM_DIR=${SLURM_DIR:-/tmp/fer-slurm}
CONF=$SLURM_DIR/slurm.conf
HOST=$(hostname -s)

install() {
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    if [ "$(id -u)" != 0 ]; then echo "slurm-wlm and munge are missing; install them (root): apt-get install slurm-wlm munge" >&2; exit 1; fi
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
  fi
}

write_config() {
  mkdir -p "$SLURM_DIR"/{state,spool,log}
  local cpus mem
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
  cat > "$CONF" <<EOF
ClusterName=fer-repro
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
  fi
  chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge 2>/dev/null || true
  mkdir -p /run/munge && chown munge:munge /run/munge 2>/dev/null || true
  chmod 0400 /etc/munge/munge.key
  if ! munge -n >/dev/null 2>&1; then
    if id munge >/dev/null 2>&1; then su -s /bin/sh munge -c "/usr/sbin/munged" || /usr/sbin/munged --force
    else /usr/sbin/munged --force; fi
  fi
  for _ in $(seq 20); do munge -n >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "munged did not start" >&2; exit 1
}

up() {
  install
  write_config
  start_munge
  export SLURM_CONF=$CONF
  pgrep -f "slurmctld -f $CONF" >/dev/null || slurmctld -f "$CONF"
  pgrep -f "slurmd -f $CONF" >/dev/null || slurmd -f "$CONF" -N "$HOST"
  for _ in $(seq 60); do
    if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
      echo "export SLURM_CONF=$CONF"
      return 0
    fi
    scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
    sleep 1
  done
  echo "the Slurm node did not come up: see $SLURM_DIR/log" >&2
  sinfo >&2 || true
  tail -n 20 "$SLURM_DIR"/log/*.log >&2 || true
  exit 1
}

down() {
  pkill -f "slurmd -f $CONF" 2>/dev/null || true
  pkill -f "slurmctld -f $CONF" 2>/dev/null || true
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
