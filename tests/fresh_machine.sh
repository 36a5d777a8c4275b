#!/usr/bin/env bash
# The README's two commands on a fresh Debian machine: a minimal root filesystem of the given
# release (debootstrap minbase, cached), with only what a user adds to fetch and run a checkout
# (git, make, ca-certificates), a clone of this repository's HEAD in root's home (mode 0700), and
# `make site` then `make test` run there as root, in the tree's own mount, PID, UTS and IPC
# namespaces. Prints how long each step took.
#
#   tests/fresh_machine.sh trixie            # Debian 13; bookworm for Debian 12
#   tests/fresh_machine.sh bookworm site     # only `make site` (any make targets, in order)
#
# The tree shares this machine's network (apt and PyPI must be reachable), so this machine must
# not run a local cluster meanwhile (`make teardown` first); with HPC_FRESH_NETWORK=own it gets a
# network namespace of its own instead, reaching out through this machine (a veth pair and an
# nftables masquerade rule, both removed at the end), so it runs beside a local cluster here.
# HPC_FRESH_CACHE (default /var/cache/hpc-fresh) keeps one tarball per release; HPC_FRESH_KEEP=1
# keeps the tree afterwards.
set -euo pipefail

# In the tree's namespaces (the script runs itself again there): /proc of the new PID namespace,
# /sys and /dev of this machine, empty /run and /tmp, then the tree becomes the root of its mount
# namespace (pivot_root, as a booted machine's root is: a chroot would refuse user namespaces and
# `ip netns` needs / to be a mount point), then the make targets, one by one.
if [ "${1:-}" = --inside ]; then
  tree=$2
  shift 2
  mount --bind "$tree" "$tree"
  mount -t proc proc "$tree/proc"
  mount --rbind /sys "$tree/sys"
  mount --rbind /dev "$tree/dev"
  mount -t tmpfs -o mode=0755 tmpfs "$tree/run"
  mount -t tmpfs -o mode=1777 tmpfs "$tree/tmp"
  hostname hpc-fresh
  # This machine's way out (proxy and CA settings) is the tree's too; nothing else of its environment.
  mapfile -t network < <(env | grep -iE '^[a-z_]*(proxy|_ca_|cert)[a-z_]*=' || true)
  mkdir -p "$tree/run/old-root"
  cd "$tree"
  pivot_root . run/old-root
  cd /
  umount -l /run/old-root
  rmdir /run/old-root
  for target in "$@"; do
    begin=$SECONDS
    echo "fresh_machine: make $target"
    if ! /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 "${network[@]}" \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin make -C /root/hpc "$target"; then
      echo "fresh_machine: make $target FAILED after $((SECONDS - begin)) s"
      exit 1
    fi
    echo "fresh_machine: make $target passed in $((SECONDS - begin)) s"
  done
  exit 0
fi

release=${1:?usage: tests/fresh_machine.sh bookworm|trixie [make targets...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(site test)
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${HPC_FRESH_CACHE:-/var/cache/hpc-fresh}
mirror=${HPC_FRESH_MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" = 0 ] || { echo "fresh_machine: run as root" >&2; exit 2; }
case $release in
  bookworm | trixie | forky | sid) ;;
  *) echo "fresh_machine: release must be a Debian code name (bookworm, trixie), not '$release'" >&2; exit 2 ;;
esac
tree_network=${HPC_FRESH_NETWORK:-shared}
case $tree_network in
  shared | own) ;;
  *) echo "fresh_machine: HPC_FRESH_NETWORK must be shared or own, not '$tree_network'" >&2; exit 2 ;;
esac
# A cluster in this machine's network namespace would share the tree's ports and bridge names;
# one in a namespace of its own does not matter.
[ "$tree_network" = own ] || for pid in $(pgrep -x slurmctld; pgrep -f moto_server); do
  if [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "$(readlink /proc/self/ns/net)" ]; then
    echo "fresh_machine: a local cluster or emulator runs on this machine (PID $pid); run make teardown first" >&2
    exit 2
  fi
done

started=$SECONDS
step() { echo "fresh_machine: [$((SECONDS - started)) s] $*"; }

# The cached tree: minbase and the three packages a user installs to clone and run make.
tarball=$cache/$release.tar
if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
  mkdir -p "$cache"
  build=$(mktemp -d "$cache/build.XXXXXX")
  step "building the $release root filesystem (debootstrap minbase, about a minute)"
  debootstrap --variant=minbase --include=git,make,ca-certificates "$release" "$build" "$mirror" >"$build.log" 2>&1 \
    || { tail -20 "$build.log"; rm -rf "$build" "$build.log"; exit 1; }
  tar -C "$build" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
  rm -rf "$build" "$build.log"
fi

tree=$(mktemp -d /var/tmp/hpc-fresh-"$release".XXXXXX)
# The tree shares this machine's network: links its cluster made and left (a run killed midway)
# go with it.
links_before=$(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort)
# The tree's own network (HPC_FRESH_NETWORK=own): named after this run, so runs side by side differ.
netns=hpcfresh-$$
host_link=hfh$$
nat_table=hpcfresh_$$
subnet=10.232.$(($$ % 250)).0
make_network() {
  command -v nft >/dev/null || { apt-get update -qq && apt-get install -y -qq nftables >/dev/null; }
  ip netns add "$netns"
  ip link add "$host_link" type veth peer name eth0 netns "$netns"
  ip addr add "${subnet%.0}.1/30" dev "$host_link"
  ip link set "$host_link" up
  ip -n "$netns" link set lo up
  ip -n "$netns" addr add "${subnet%.0}.2/30" dev eth0
  ip -n "$netns" link set eth0 up
  ip -n "$netns" route add default via "${subnet%.0}.1"
  sysctl -qw net.ipv4.ip_forward=1
  nft add table ip "$nat_table"
  nft add chain ip "$nat_table" postrouting '{ type nat hook postrouting priority srcnat; }'
  nft add rule ip "$nat_table" postrouting ip saddr "$subnet/30" oifname != "$host_link" masquerade
}
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local link
  if [ "$tree_network" = own ]; then
    ip netns delete "$netns" 2>/dev/null || true
    ip link delete "$host_link" 2>/dev/null || true
    nft delete table ip "$nat_table" 2>/dev/null || true
  fi
  for link in $(comm -13 <(echo "$links_before") <(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort)); do
    ip link delete "$link" 2>/dev/null || true
  done
  if [ "${HPC_FRESH_KEEP:-0}" = 1 ]; then
    echo "fresh_machine: kept $tree"
  else
    rm -rf --one-file-system "$tree"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
step "unpacking the $release root filesystem into $tree"
tar -C "$tree" -xf "$tarball"
chmod 0755 "$tree"
cp /etc/resolv.conf "$tree/etc/resolv.conf"
printf '127.0.0.1 localhost\n127.0.1.1 hpc-fresh\n' >"$tree/etc/hosts"
echo hpc-fresh >"$tree/etc/hostname"
chmod 0700 "$tree/root"
# The machine's network settings, as its provider would give a fresh machine: local CAs (a TLS
# proxy's, for example) and pip's configuration.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$tree/usr/local/share/ca-certificates/"
  chroot "$tree" update-ca-certificates >/dev/null 2>&1
fi
[ ! -f /etc/pip.conf ] || cp /etc/pip.conf "$tree/etc/pip.conf"
git clone -q "$repo" "$tree/root/hpc"
step "cloned $(git -C "$repo" rev-parse --short HEAD) into /root/hpc (root's home is mode 0700)"

# Every process left in the tree dies with its PID namespace's first process, which dies with
# unshare (--kill-child).
status=0
run_in=()
if [ "$tree_network" = own ]; then
  make_network
  run_in=(nsenter --net="/run/netns/$netns" --)  # not ip netns exec: it would hide /sys/fs/cgroup
  step "network namespace $netns, out through $host_link"
fi
"${run_in[@]}" unshare --mount --pid --uts --ipc --fork --kill-child --propagation private -- "$(readlink -f "$0")" --inside "$tree" "${targets[@]}" || status=$?
step "$release: $(if [ $status = 0 ]; then echo "make ${targets[*]} passed"; else echo "failed (exit $status)"; fi)"
exit $status
