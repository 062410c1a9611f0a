#!/usr/bin/env python3
"""A stand-in for QEMU in rsio-cluster's CLI tests: no kernel, same protocol.

It reads the arguments the runner gives QEMU, writes a short "boot log" to the
serial console file, serves the control socket like tools/guest-init does
(READY, then run each base64 script with sh, output to the port, DONE) and
exits when the runner hangs up or sends `poweroff -f`.

Scripts see RSIO_NODE, RSIO_NODES, RSIO_CONSOLE (the console log, so a
scenario can fake a kernel message) and RSIO_QEMU_ARGS (the arguments, one
per line). Kernel command line switches:
  fake.exit=N       exit with code N before becoming ready
  fake.silent=1     never say READY
"""

import base64
import os
import socket
import subprocess
import sys


def option(args, flag, prefix):
    """The value of `flag` whose option string starts with `prefix`."""
    for i, arg in enumerate(args[:-1]):
        if arg == flag and args[i + 1].startswith(prefix):
            return args[i + 1]
    sys.exit(f"fake-qemu: no {flag} {prefix}...")


def path_of(opts):
    for part in opts.split(","):
        if part.startswith("path="):
            return part[len("path="):]
    sys.exit(f"fake-qemu: no path in {opts}")


def main():
    args = sys.argv[1:]
    cmdline = dict(kv.split("=", 1) for kv in option(args, "-append", "").split() if "=" in kv)
    console = path_of(option(args, "-chardev", "file,id=con,"))
    ctl = path_of(option(args, "-chardev", "socket,id=ctl,"))
    node = cmdline["rsio.node"]

    with open(console, "a") as con:
        con.write(f"[    0.000000] Linux version 0.0-fake (node {node})\n")
    if "fake.exit" in cmdline:
        print("fake-qemu: exiting as asked", file=sys.stderr)
        sys.exit(int(cmdline["fake.exit"]))

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(ctl)
    server.listen(1)
    port, _ = server.accept()
    if cmdline.get("fake.silent") != "1":
        port.sendall(f"@@RSIO-READY {node}\n".encode())

    env = dict(os.environ, RSIO_NODE=node, RSIO_NODES=cmdline["rsio.nodes"], RSIO_CONSOLE=console,
               RSIO_QEMU_ARGS="\n".join(args))
    for line in port.makefile("rb"):
        seq, payload = line.decode().split(" ", 1)
        script = base64.b64decode(payload)
        if script == b"poweroff -f":
            break
        rc = subprocess.run(["sh", "-c", script], stdin=subprocess.DEVNULL,
                            stdout=port.fileno(), stderr=port.fileno(), env=env).returncode
        if rc < 0:  # killed by a signal, reported the way sh does
            rc = 128 - rc
        port.sendall(f"@@RSIO-DONE {seq} {rc}\n".encode())
    with open(console, "a") as con:
        con.write("[    9.000000] reboot: Power down\n")


if __name__ == "__main__":
    main()
