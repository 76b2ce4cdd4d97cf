#!/usr/bin/python3
"""cpuload.py: how busy the machine is, for timing runs on a shared VM.

Timings on this 2-vCPU machine are only comparable when nothing else runs;
other processes can be invisible to `ps` (other PID namespaces)
yet still take the cores. /proc/stat counts every core's busy time, so
"system busy time minus our own CPU time" is what everyone else used.

As a module (scripts/noprop_dt_torch.py):
    snap = Snapshot(); ...; other_cpu_seconds(snap, Snapshot(), own_cpu_s)
As a command:
    cpuload.py [--wait-quiet SECS] [--label NAME] [--report FILE] -- CMD ARGS...
  optionally waits (at most SECS) until the machine is idle, runs CMD, and
  prints to stderr its wall time, its CPU time and the CPU time the rest of
  the machine used meanwhile; --report also writes "others_pct=P" (the
  others' share of all cores, in %) to FILE. The exit status is CMD's.
"""

import os
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


class Snapshot:
    """System-wide busy and idle seconds (all cores) at one instant."""

    def __init__(self):
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal (guest is in user)
        self.idle = (v[3] + v[4]) / HZ
        self.busy = (v[0] + v[1] + v[2] + sum(v[5:8])) / HZ
        self.wall = time.monotonic()


def other_cpu_seconds(a, b, own_cpu):
    """CPU seconds used by everything but us between snapshots a and b."""
    return max(0.0, (b.busy - a.busy) - own_cpu)


def describe(a, b, own_cpu):
    wall = b.wall - a.wall
    other = other_cpu_seconds(a, b, own_cpu)
    share = 100.0 * other / (wall * NCPU) if wall > 0 else 0.0
    return f"others used {other:.1f} cpu-s ({share:.0f}% of {NCPU} cores) during {wall:.1f} s"


def wait_quiet(limit, window=3.0, idle_share=0.95):
    """Wait until a window with at least idle_share idle, at most limit s."""
    t0 = time.monotonic()
    while True:
        a = Snapshot()
        time.sleep(window)
        b = Snapshot()
        tot = (b.idle - a.idle) + (b.busy - a.busy)
        if tot <= 0 or (b.idle - a.idle) >= idle_share * tot:
            return True
        if time.monotonic() - t0 >= limit:
            return False


def main(argv):
    wait, label, report = 0.0, "", ""
    while argv and argv[0] != "--":
        if argv[0] == "--wait-quiet":
            wait, argv = float(argv[1]), argv[2:]
        elif argv[0] == "--report":
            report, argv = argv[1], argv[2:]
        elif argv[0] == "--label":
            label, argv = argv[1] + ": ", argv[2:]
        else:
            sys.exit(f"cpuload.py: unknown argument {argv[0]} (usage: see the docstring)")
    cmd = argv[1:]
    if not cmd:
        sys.exit("cpuload.py: no command after --")
    if wait > 0:
        t = time.monotonic()
        quiet = wait_quiet(wait)
        waited = time.monotonic() - t
        print(f"cpuload: {label}" + (f"machine idle after {waited:.0f} s" if quiet else
              f"machine still busy after {waited:.0f} s; running anyway"), file=sys.stderr)
    a = Snapshot()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        except OSError as e:
            print(f"cpuload.py: {cmd[0]}: {e}", file=sys.stderr)
        os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    b = Snapshot()
    own = ru.ru_utime + ru.ru_stime
    print(f"cpuload: {label}{cmd[0]}: own {own:.1f} cpu-s; {describe(a, b, own)}",
          file=sys.stderr)
    if report:
        wall = b.wall - a.wall
        pct = 100.0 * other_cpu_seconds(a, b, own) / (wall * NCPU) if wall > 0 else 0.0
        with open(report, "w") as f:
            f.write(f"others_pct={pct:.0f}\n")
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    rc = main(sys.argv[1:])
    sys.exit(rc if rc >= 0 else 128 - rc)
