"""Network namespaces for the partition nemesis. The test makes them all
and removes them all; no packet leaves them.

- A router namespace (the hub) forwards between the others. Each of them
  hangs off it on a veth pair of its own, in a subnet of its own:
  party k is at SUBNET.k.2, the router's end at SUBNET.k.1.
- Party 0 is the clients' namespace: the harness and the clients run
  there. Party k (1..n) is broker k's.

Every packet between two parties is forwarded by the router, so a cut is
a pair of policy rules there (`ip rule ... blackhole`, one per direction)
and the router drops what it matches silently, as a pulled cable would:
a connect hangs, TCP retransmits into the void until the cut heals or the
connection times out, and neither side gets an error to react to. Healing
deletes the rules; connections that lived through the cut carry on.

Usage: with Hub(3) as hub: hub.command([...]) runs a command in the
clients' namespace. Inside it, Net(hub.name, 3) knows the brokers'
namespaces and addresses, and cuts and heals links."""
import os
import subprocess

SUBNET = "10.231"  # exists only inside these namespaces


def ip(*args, check=True):
    r = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError("ip %s failed (%d): %s" % (" ".join(args), r.returncode,
                                                      r.stderr.strip()))
    return r


def available():
    """(True, "") when this process may create network namespaces joined
    by veth pairs and route between them; otherwise (False, why)."""
    if os.geteuid() != 0:
        return False, "not root (creating network namespaces needs CAP_SYS_ADMIN)"
    probe = "rill-probe-%d" % os.getpid()
    try:
        ip("netns", "add", probe)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    try:
        ip("-n", probe, "link", "add", "va", "type", "veth", "peer", "name", "vb")
        ip("-n", probe, "rule", "add", "from", "10.231.1.2", "to", "10.231.2.2", "blackhole")
        ip("netns", "exec", probe, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
    except (OSError, RuntimeError) as e:
        return False, str(e)
    finally:
        ip("netns", "del", probe, check=False)
    return True, ""


def namespace(hub_name, party):
    """The namespace of party (0: the clients, k: broker k) under hub_name."""
    return hub_name + ("-c" if party == 0 else "-n%d" % party)


def host(party):
    return "%s.%d.2" % (SUBNET, party)


class Hub:
    """Creates the router, the clients' namespace and the n brokers'
    namespaces with their links, and deletes them all on exit."""

    def __init__(self, n):
        self.name = "rill-%d" % os.getpid()
        self.parties = [namespace(self.name, k) for k in range(n + 1)]

    def __enter__(self):
        try:
            ip("netns", "add", self.name)
            ip("-n", self.name, "link", "set", "lo", "up")
            ip("netns", "exec", self.name, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
            for k, ns in enumerate(self.parties):
                ip("netns", "add", ns)
                ip("-n", ns, "link", "set", "lo", "up")
                port = "v%d" % k
                ip("-n", self.name, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                   "netns", ns)
                ip("-n", self.name, "addr", "add", "%s.%d.1/24" % (SUBNET, k), "dev", port)
                ip("-n", self.name, "link", "set", port, "up")
                ip("-n", ns, "addr", "add", host(k) + "/24", "dev", "eth0")
                ip("-n", ns, "link", "set", "eth0", "up")
                ip("-n", ns, "route", "add", "default", "via", "%s.%d.1" % (SUBNET, k))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for ns in self.parties + [self.name]:
            ip("netns", "del", ns, check=False)

    def command(self, argv):
        """argv run in the clients' namespace."""
        return ["ip", "netns", "exec", self.parties[0]] + list(argv)


class Net:
    """The brokers' side, used from inside the clients' namespace: broker
    k (1-based) runs in namespace(hub, k) at host(k)."""

    def __init__(self, hub_name, n):
        self.hub = hub_name
        self.n = n
        self.cut = set()  # (a, b): the router drops what a sends to b

    def host(self, node):
        return host(node)

    def prefix(self, node):
        return ["ip", "netns", "exec", namespace(self.hub, node)]

    def isolate(self, node, from_clients=False):
        """Cuts node off from every other broker, both ways, and from the
        clients too when from_clients."""
        others = [k for k in range(1, self.n + 1) if k != node] + ([0] if from_clients else [])
        for other in others:
            self.cut_link(node, other)

    def cut_link(self, a, b):
        """Cuts the one link between parties a and b, both ways; each still
        reaches everyone else (a partial partition)."""
        for x, y in ((a, b), (b, a)):
            if (x, y) not in self.cut:
                ip("-n", self.hub, "rule", "add", "from", host(x), "to", host(y), "blackhole")
                self.cut.add((x, y))

    def heal(self):
        for a, b in sorted(self.cut):
            ip("-n", self.hub, "rule", "del", "from", host(a), "to", host(b), "blackhole",
               check=False)
        self.cut.clear()
