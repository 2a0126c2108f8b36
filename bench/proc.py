"""What /proc says of a benchmarked process."""

import os


def rss_mb(pid: int) -> float:
    """The process's resident memory in MB, to 0.1."""
    with open(f"/proc/{pid}/status") as status:
        line = next(x for x in status if x.startswith("VmRSS"))
    return round(int(line.split()[1]) / 1024, 1)


def cpu_seconds(pid: int) -> float:
    """The CPU time the process has used (user and system)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
