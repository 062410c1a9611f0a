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

Without -append it is an expansion chassis (no kernel, no control port): it
writes its arguments to the console file ("fake-chassis: arg ..."), then
serves its -qmp socket, one client after the other: qmp_capabilities,
query-status, device_add / device_del / blockdev-add (noted in the console
file; device_del also sends a DEVICE_DELETED event first), quit (exits 0);
anything else is a CommandNotFound error. SIGTERM exits 0, as QEMU does.
"""

import base64
import json
import os
import signal
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


def chassis(args):
    console = path_of(option(args, "-chardev", "file,id=con,"))
    qmp = option(args, "-qmp", "unix:")[len("unix:"):].split(",")[0]
    with open(console, "a") as con:
        for arg in args:
            con.write(f"fake-chassis: arg {arg}\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(qmp)
    server.listen(1)
    while True:
        client, _ = server.accept()
        with client, client.makefile("rwb", buffering=0) as f:
            def send(obj):
                f.write((json.dumps(obj) + "\r\n").encode())
            send({"QMP": {"version": {"qemu": {"major": 9, "minor": 2, "micro": 0}},
                          "capabilities": ["oob"]}})
            for line in f:
                command = json.loads(line)
                name = command.get("execute")
                arguments = command.get("arguments", {})
                if name in ("qmp_capabilities", "blockdev-add", "device_add", "device_del"):
                    if name != "qmp_capabilities":
                        with open(console, "a") as con:
                            con.write(f"fake-chassis: {name} {json.dumps(arguments)}\n")
                    if name == "device_del":
                        send({"event": "DEVICE_DELETED", "data": {"device": arguments.get("id")},
                              "timestamp": {"seconds": 0, "microseconds": 0}})
                    send({"return": {}})
                elif name == "query-status":
                    send({"return": {"status": "running", "running": True}})
                elif name == "quit":
                    send({"return": {}})
                    with open(console, "a") as con:
                        con.write("fake-chassis: quit\n")
                    sys.exit(0)
                else:
                    send({"error": {"class": "CommandNotFound",
                                    "desc": f"The command {name} has not been found"}})


def main():
    args = sys.argv[1:]
    if "-append" not in args:
        chassis(args)
        return
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
