#!/usr/bin/env python3
"""make compat: Kafka clients from other registries against a real broker.

  KafkaJS 2.2.4 (npm), franz-go (Go module proxy), the Apache Kafka Java
  client 4.x (Maven Central), the newest kafka-python and confluent-kafka
  (PyPI).

Each client is installed into build/compat/<client> (a copy of its folder
here), then runs the same scenario against a fresh broker: create a topic,
produce keyed records with headers using the client's default producer,
consume them in a group, commit, and read the commits back.

Installing is two steps: fetching the packages from the registry, then
building. Only a fetch the registry refuses makes a client SKIPPED (with
the reason, loudly); a client whose packages arrived but that does not
build or run, a missing toolchain, or a broker that crashed under it
fails the run.

Usage: RILL_BIN=... tests/compat/registry/run.py [client ...]
"""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from rill import Broker  # noqa: E402

BUILD = os.path.join(ROOT, "build", "compat")
PYTHON = sys.executable if os.path.basename(sys.executable).startswith("python3") else "python3"


class FetchRefused(Exception):
    """The registry did not deliver the client's packages."""


class BuildFailed(Exception):
    """The packages arrived; building or preparing the client failed."""


def sh(cmd, cwd, error, timeout=900):
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise error("%s: %s" % (" ".join(cmd), e))
    if r.returncode != 0:
        raise error("%s failed:\n%s%s" % (" ".join(cmd), r.stdout[-2000:], r.stderr[-3000:]))
    return r.stdout


def fetch(cmd, cwd):
    return sh(cmd, cwd, FetchRefused)


def build(cmd, cwd):
    return sh(cmd, cwd, BuildFailed)


def install_kafkajs(d):
    fetch(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], d)  # plain JS
    return ["node", "test.js"]


def install_franz_go(d):
    fetch(["go", "mod", "download"], d)
    build(["go", "mod", "tidy"], d)
    build(["go", "build", "-o", "franz-compat", "."], d)
    return ["./franz-compat"]


def install_java(d):
    fetch(["mvn", "-q", "-B", "dependency:build-classpath", "-Dmdep.outputFile=cp.txt"], d)
    with open(os.path.join(d, "cp.txt")) as f:
        cp = f.read().strip()
    os.makedirs(os.path.join(d, "classes"), exist_ok=True)
    build(["javac", "-d", "classes", "-cp", cp, "src/main/java/RillCompat.java"], d)
    return ["java", "-cp", "classes:" + cp, "RillCompat"]


def install_kafka_tools(d):
    """Apache Kafka's own tools (kafka-metadata-quorum) from Maven Central."""
    fetch(["mvn", "-q", "-B", "dependency:build-classpath", "-Dmdep.outputFile=cp.txt"], d)
    with open(os.path.join(d, "cp.txt")) as f:
        cp = f.read().strip()
    return ["bash", "check.sh", cp]


def install_pypi(d):
    venv = os.path.join(d, "venv")
    build([PYTHON, "-m", "venv", venv], d)
    pip = os.path.join(venv, "bin", "pip")
    fetch([pip, "download", "-q", "-d", "wheels", "-r", "requirements.txt"], d)
    build([pip, "install", "-q", "--no-index", "--find-links", "wheels", "-r",
           "requirements.txt"], d)
    return [os.path.join(venv, "bin", "python"), "test.py"]


CLIENTS = {
    "kafkajs": install_kafkajs,
    "franz-go": install_franz_go,
    "java": install_java,
    "kafka-tools": install_kafka_tools,
    "pypi": install_pypi,
}


def main():
    wanted = sys.argv[1:] or list(CLIENTS)
    results = {}
    for name in wanted:
        src = os.path.join(HERE, name)
        d = os.path.join(BUILD, name)
        if os.path.isdir(d):
            for entry in os.listdir(src):  # refresh the sources, keep installed deps
                s = os.path.join(src, entry)
                if os.path.isdir(s):
                    shutil.copytree(s, os.path.join(d, entry), dirs_exist_ok=True)
                else:
                    shutil.copy2(s, d)
        else:
            shutil.copytree(src, d)
        try:
            cmd = CLIENTS[name](d)
        except FetchRefused as e:
            results[name] = "SKIPPED"
            print("*** SKIPPED %s: its registry did not deliver it here ***\n%s" % (name, e))
            continue
        except BuildFailed as e:
            results[name] = "FAIL"
            print("*** FAIL %s: its packages arrived but it does not build ***\n%s" % (name, e))
            continue
        broker = Broker(args=["--group.initial.rebalance.delay.ms=0"]).start()
        try:
            r = subprocess.run(cmd + [broker.bootstrap, "compat-" + name, "group-" + name],
                               cwd=d, capture_output=True, text=True, timeout=300)
            ok = r.returncode == 0 and "PASS" in r.stdout
            results[name] = "PASS" if ok else "FAIL"
            print("%s %s\n%s%s" % (results[name], name, r.stdout, "" if ok else r.stderr[-4000:]))
            if not ok:
                print("broker log (tail):\n" + broker.log()[-3000:])
        except (OSError, subprocess.TimeoutExpired) as e:
            results[name] = "FAIL"
            print("FAIL %s: %s" % (name, e))
        finally:
            try:
                broker.cleanup()
            except (AssertionError, RuntimeError) as e:  # the broker crashed or would not stop
                results[name] = "FAIL"
                print("FAIL %s: %s" % (name, e))
    print("\ncompat summary: " + ", ".join("%s %s" % (k, v) for k, v in results.items()))
    sys.exit(1 if "FAIL" in results.values() else 0)


if __name__ == "__main__":
    main()
