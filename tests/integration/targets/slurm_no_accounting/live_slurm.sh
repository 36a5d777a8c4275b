# shellcheck shell=bash
# A private Slurm 22.05+ without slurmdbd (AccountingStorageType=accounting_storage/none), run from
# the host's Debian packages inside the current network namespace: its own munged (own key and
# socket), slurmctld, one slurmd (node "noacct1" at 127.0.0.1) and, when the package is installed,
# slurmrestd with only the slurmctld plugin.
# The namespace needs an address besides loopback: slurmctld's listening socket comes from
# getaddrinfo(AI_ADDRCONFIG), which finds nothing on a loopback-only namespace (live_netns_up). Every file is under $1; nothing of the host's
# /etc/slurm or /run/munge is used. Source this, then `live_slurm_up DIR` / `live_slurm_down DIR`.

LIVE_CTLD_PORT=${LIVE_CTLD_PORT:-6917}
LIVE_SLURMD_PORT=${LIVE_SLURMD_PORT:-6918}
LIVE_REST_PORT=${LIVE_REST_PORT:-6920}
LIVE_MIN_JOB_AGE=${LIVE_MIN_JOB_AGE:-2}

# Enter with `nsenter --net=/run/netns/NAME` rather than `ip netns exec`, which remounts /sys
# without the cgroup file system that slurmd 22.05 looks for.
live_netns_up() {
  local name=$1
  ip netns add "$name"
  ip -n "$name" link set lo up
  ip -n "$name" link add acct0 type veth peer name acct1
  ip -n "$name" addr add 10.255.77.1/30 dev acct0
  ip -n "$name" link set acct0 up
  ip -n "$name" link set acct1 up
}

live_slurm_up() {
  local dir=$1 host
  host=$(hostname -s)
  mkdir -p "$dir/state" "$dir/spool/noacct1" "$dir/log" "$dir/munge" "$dir/jobs"
  chmod 0755 "$dir/munge"
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 0400 "$dir/munge/munge.key"
  munged --force --socket="$dir/munge/munge.sock" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munge.seed"
  dd if=/dev/urandom of="$dir/jwt.key" bs=32 count=1 status=none
  chmod 0600 "$dir/jwt.key"
  cat > "$dir/slurm.conf" <<CONF
ClusterName=noacct
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$LIVE_CTLD_PORT
SlurmdPort=$LIVE_SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.sock
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$dir/jwt.key
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
TmpFS=$dir/spool
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MinJobAge=$LIVE_MIN_JOB_AGE
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
PlugStackConfig=$dir/plugstack.conf
NodeName=noacct1 NodeAddr=127.0.0.1 NodeHostname=$host CPUs=2 RealMemory=500 State=UNKNOWN
PartitionName=debug Nodes=noacct1 Default=YES MaxTime=INFINITE State=UP
CONF
  : > "$dir/plugstack.conf"
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -i
  slurmd -N noacct1
  local _
  for _ in $(seq 1 60); do
    if sinfo --noheader --format=%T 2>/dev/null | grep -qx idle; then break; fi
    sleep 0.5
  done
  sinfo --noheader --format=%T | grep -qx idle || { echo "slurmd did not register" >&2; cat "$dir/log/"*.log >&2; return 1; }
  if command -v slurmrestd > /dev/null; then
    # slurmrestd refuses to run as root; it only needs to read slurm.conf and reach slurmctld.
    chmod 0755 "$dir"
    chmod 0644 "$dir/slurm.conf" "$dir/plugstack.conf"
    SLURM_JWT=daemon setsid slurmrestd -a rest_auth/jwt -s "$(live_ctld_plugin)" -u nobody -g nogroup \
      "127.0.0.1:$LIVE_REST_PORT" > "$dir/log/slurmrestd.log" 2>&1 < /dev/null &
    echo $! > "$dir/slurmrestd.pid"
    for _ in $(seq 1 40); do
      # Up once it answers at all (401 without a token).
      [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$LIVE_REST_PORT/openapi/v3")" != 000 ] && break
      sleep 0.25
    done
  fi
}

_live_stop_pidfile() {
  local file=$1 pid _
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null; then
    kill "$pid" 2> /dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2> /dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2> /dev/null || true
  fi
}

live_slurm_down() {
  local dir=$1
  _live_stop_pidfile "$dir/slurmrestd.pid"
  _live_stop_pidfile "$dir/slurmd-noacct1.pid"
  _live_stop_pidfile "$dir/slurmctld.pid"
  _live_stop_pidfile "$dir/munge/munged.pid"
}

# slurmrestd's slurmctld-only plugin of the installed Slurm: versioned up to 23.02, one name from 23.11.
live_ctld_plugin() {
  local version
  version=$(slurmctld -V | awk '{print $2}')
  if dpkg --compare-versions "$version" lt 23.02; then echo openapi/v0.0.38
  elif dpkg --compare-versions "$version" lt 23.11; then echo openapi/v0.0.39
  else echo openapi/slurmctld; fi
}
