//! The `rsio-fabric` program as the cluster runner and test scripts use
//! it: `serve` lays out a directory and says when it is ready, `ctl` steers
//! the running fabric, and the fabric leaves nothing behind when it stops.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use rsio_emu::adapter::regs;
use rsio_emu::vfio_user::client::Client;
use rsio_emu::vfio_user::region_index;
use serde_json::{json, Value};

const PROGRAM: &str = env!("CARGO_BIN_EXE_rsio-fabric");
const TIMEOUT: Duration = Duration::from_secs(10);

/// A fresh directory, removed with everything in it when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        TempDir(std::env::temp_dir().join(format!("rsio-fabric-cli-{}-{n}", std::process::id())))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `rsio-fabric serve`.
struct Served {
    child: Child,
    stderr: Arc<Mutex<String>>,
    dir: TempDir,
}

impl Served {
    /// Serves a fabric with `options` in a new directory and waits for the
    /// ready line.
    fn start(options: &str) -> Served {
        let dir = TempDir::new();
        let mut child = Command::new(PROGRAM)
            .args(["serve", "--dir"])
            .arg(dir.path())
            .args(options.split_whitespace())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rsio-fabric");
        let stderr = Arc::new(Mutex::new(String::new()));
        let log = stderr.clone();
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                log.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (ready, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = ready.send(line);
            }
        });
        let served = Served { child, stderr, dir };
        match lines.recv_timeout(TIMEOUT) {
            Ok(line) => assert_eq!(line, "rsio-fabric: ready"),
            Err(_) => panic!("no ready line; stderr:\n{}", served.stderr()),
        }
        served
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn ctl(&self, command: &str) -> Ctl {
        ctl(self.dir(), command)
    }

    /// `ctl status`, which must succeed.
    fn status(&self) -> Value {
        let status = self.ctl("status");
        assert_eq!(status.code, 0, "{status:?}");
        status.reply
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0);
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "rsio-fabric did not exit; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The files `serve` creates in its directory.
    fn files(&self) -> Vec<PathBuf> {
        let mut names = vec!["fabric.mem".to_string(), "control.sock".to_string()];
        for node in 0..2 {
            names.push(format!("node{node}.sock"));
            names.push(format!("node{node}.qemu-args"));
        }
        names.iter().map(|name| self.file(name)).collect()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The outcome of one `rsio-fabric ctl`.
#[derive(Debug)]
struct Ctl {
    code: i32,
    /// The reply printed on stdout (`Null` if none).
    reply: Value,
    stderr: String,
}

fn ctl(dir: &Path, command: &str) -> Ctl {
    let out = Command::new(PROGRAM)
        .args(["ctl", "--dir"])
        .arg(dir)
        .args(command.split_whitespace())
        .output()
        .expect("run rsio-fabric ctl");
    let stdout = String::from_utf8_lossy(&out.stdout);
    Ctl {
        code: out.status.code().expect("ctl exited by a signal"),
        reply: serde_json::from_str(stdout.trim()).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Waits until `condition` holds.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A vfio-user client standing in for node `node`'s VM.
fn connect_vm(served: &Served, node: usize) -> Client {
    let vm = Client::connect(served.file(&format!("node{node}.sock"))).unwrap();
    vm.negotiate().unwrap();
    vm
}

fn bar0_read(vm: &Client, offset: u64) -> u32 {
    let bytes = vm.region_read(region_index::BAR0, offset, 4).unwrap();
    u32::from_le_bytes(bytes.try_into().unwrap())
}

#[test]
fn serve_lays_out_its_directory_and_shutdown_removes_it_all() {
    let mut served = Served::start("--nodes 2");
    for file in served.files() {
        assert!(file.exists(), "{} is missing", file.display());
    }
    let dir = served.dir().canonicalize().unwrap();
    let dir = dir.display();
    for (node, offset) in [(0, 0), (1, 512 << 20)] {
        let args = std::fs::read_to_string(served.file(&format!("node{node}.qemu-args"))).unwrap();
        let args: Vec<&str> = args.lines().collect();
        assert_eq!(
            args,
            [
                "-object",
                &format!("memory-backend-file,id=ram,mem-path={dir}/fabric.mem,offset={offset},size=384M,share=on"),
                "-machine",
                "q35,memory-backend=ram",
                "-device",
                &format!(r#"{{"driver":"vfio-user-pci","socket":{{"path":"{dir}/node{node}.sock","type":"unix"}}}}"#),
                "-object",
                &format!("memory-backend-file,id=rsio-direct,mem-path={dir}/fabric.mem,size={},share=on", 2 << 29),
                "-device",
                "ivshmem-plain,memdev=rsio-direct,addr=0x1e.0",
            ]
        );
    }
    let memory = std::fs::metadata(served.file("fabric.mem")).unwrap();
    assert_eq!(
        memory.len(),
        2 << 29,
        "each node's span is its RAM rounded up to a power of two"
    );

    let shutdown = served.ctl("shutdown");
    assert_eq!(
        (shutdown.code, shutdown.reply),
        (0, json!({ "ok": true, "shutdown": true }))
    );
    assert!(served.wait_exit().success());
    for file in served.files() {
        assert!(!file.exists(), "{} is left behind", file.display());
    }
    assert!(
        served.stderr().contains("shutdown requested"),
        "{}",
        served.stderr()
    );
}

#[test]
fn status_reports_the_configuration_and_every_node() {
    let served = Served::start(
        "--nodes 3 --ram-mib 64 --lut-slots 16 --slot-shift 20 --in-windows 8 --dma-channels 4 \
         --multicast 0,2 --multicast 1,2 --no-direct",
    );
    let status = served.status();
    assert_eq!(status["ok"], true);
    assert_eq!(
        status["config"],
        json!({
            "nodes": 3, "ram_mib": 64, "lut_slots": 16, "slot_shift": 20, "in_windows": 8,
            "dma_channels": 4, "multicast": [[0, 2], [1, 2]], "direct": false, "direct_alias": false,
            "direct_shift": 26, "chassis": []
        })
    );
    let nodes = status["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    for (id, node) in nodes.iter().enumerate() {
        assert_eq!(
            *node,
            json!({
                "id": id, "present": false, "link_enabled": false, "link_status": 0,
                "faults": { "link_down": false, "killed": false, "latency_us": 0, "drop_doorbells": false, "stall_mmio": false },
                "counters": { "tx": 0, "errors": 0, "refused": 0, "dma_bytes": 0,
                              "db_tx": 0, "db_rx": 0, "rmmio": 0, "db_dropped": 0 }
            })
        );
    }
    let args = std::fs::read_to_string(served.file("node2.qemu-args")).unwrap();
    assert!(
        args.contains(&format!(",offset={},size=64M,", 2 << 26)),
        "{args}"
    );
}

#[test]
fn fault_commands_change_the_node_and_show_in_the_status() {
    let served = Served::start("--nodes 2");
    let faults = |command: &str| {
        let out = served.ctl(command);
        assert_eq!(out.code, 0, "{command}: {out:?}");
        assert_eq!(out.reply["ok"], true);
        out.reply["node"]["faults"].clone()
    };
    assert_eq!(faults("link-down 1")["link_down"], true);
    assert_eq!(faults("kill 0")["killed"], true);
    assert_eq!(faults("latency 1 250")["latency_us"], 250);
    assert_eq!(faults("drop-doorbells 0 on")["drop_doorbells"], true);

    let status = served.status();
    assert_eq!(
        status["nodes"][0]["faults"],
        json!({ "link_down": false, "killed": true, "latency_us": 0, "drop_doorbells": true, "stall_mmio": false })
    );
    assert_eq!(
        status["nodes"][1]["faults"],
        json!({ "link_down": true, "killed": false, "latency_us": 250, "drop_doorbells": false, "stall_mmio": false })
    );

    faults("link-up 1");
    faults("revive 0");
    faults("latency 1 0");
    faults("drop-doorbells 0 off");
    let status = served.status();
    for node in 0..2 {
        assert_eq!(
            status["nodes"][node]["faults"],
            json!({ "link_down": false, "killed": false, "latency_us": 0, "drop_doorbells": false, "stall_mmio": false })
        );
    }
}

#[test]
fn vms_connect_to_their_node_and_may_reconnect() {
    let served = Served::start("--nodes 2");
    let vm0 = connect_vm(&served, 0);
    let vm1 = connect_vm(&served, 1);
    assert_eq!(bar0_read(&vm0, regs::NODE_ID), 0);
    assert_eq!(bar0_read(&vm1, regs::NODE_ID), 1);
    let present = |status: &Value| [0, 1].map(|n| status["nodes"][n]["present"].as_bool().unwrap());
    assert_eq!(present(&served.status()), [true, true]);

    // Both drivers enable their links: the link between them comes up.
    vm0.region_write(region_index::BAR0, regs::LINK_CTRL, &1u32.to_le_bytes())
        .unwrap();
    vm1.region_write(region_index::BAR0, regs::LINK_CTRL, &1u32.to_le_bytes())
        .unwrap();
    let status = served.status();
    assert_eq!(status["nodes"][0]["link_enabled"], true);
    assert_eq!(status["nodes"][0]["link_status"], 0b11);
    assert_eq!(status["nodes"][1]["link_status"], 0b11);

    // The fabric takes node 1 down: node 0 loses the link, node 1 keeps
    // only its own bit (it mirrors ENABLE).
    served.ctl("link-down 1");
    assert_eq!(bar0_read(&vm0, regs::LINK_STATUS), 0b01);
    let status = served.status();
    assert_eq!(status["nodes"][0]["link_status"], 0b01);
    assert_eq!(status["nodes"][1]["link_status"], 0b10);
    served.ctl("link-up 1");

    // Node 0's VM goes away, and a new one takes its place.
    vm0.close();
    eventually("node 0 is gone", || {
        present(&served.status()) == [false, true]
    });
    let vm0 = connect_vm(&served, 0);
    assert_eq!(bar0_read(&vm0, regs::NODE_ID), 0);
    assert_eq!(present(&served.status()), [true, true]);
    assert_eq!(
        served.status()["nodes"][0]["link_enabled"],
        false,
        "the new VM starts from reset"
    );

    let log = served.stderr();
    assert_eq!(log.matches("node 0: VM connected").count(), 2, "{log}");
    assert_eq!(log.matches("node 0: VM disconnected").count(), 1, "{log}");
    assert!(log.contains("node 1: VM connected"), "{log}");
}

#[test]
fn bad_commands_fail_with_clear_errors_and_exit_codes() {
    let served = Served::start("--nodes 2");
    let cases = [
        // (command, exit code, what stderr says)
        ("kill 2", 1, "no node 2: the fabric has nodes 0..=1"),
        ("latency 9 10", 1, "no node 9"),
        ("frobnicate", 2, "unknown command `frobnicate`"),
        ("link-down", 2, "usage: link-down N"),
        ("link-down one", 2, "`one` is not a node id"),
        ("latency 1", 2, "usage: latency N US"),
        ("latency 1 -5", 2, "`-5` is not a latency"),
        ("drop-doorbells 1 maybe", 2, "`maybe` is neither on nor off"),
        ("status please", 2, "usage: status"),
    ];
    for (command, code, message) in cases {
        let out = served.ctl(command);
        assert_eq!(out.code, code, "{command}: {out:?}");
        assert!(out.stderr.contains(message), "{command}: {out:?}");
    }
    // A refusal still prints the server's reply.
    let refused = served.ctl("revive 5");
    assert_eq!(refused.reply["ok"], false);
    assert_eq!(refused.reply["kind"], "refused");

    let usage = Command::new(PROGRAM)
        .args(["ctl", "status"])
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2), "--dir is required");
    assert_eq!(served.status()["ok"], true, "the fabric serves on");
}

#[test]
fn the_control_socket_survives_malformed_lines_and_serves_clients_in_turn() {
    let served = Served::start("--nodes 2");
    let socket = served.file("control.sock");
    let mut stream = UnixStream::connect(&socket).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut input: Vec<u8> = Vec::new();
    input.extend_from_slice(b"\n"); // empty
    input.extend_from_slice(b"\xff\xfe\xfd\n"); // not UTF-8
    input.extend_from_slice(&[b'z'; 5000]); // too long
    input.extend_from_slice(b"\n{\"json\": \"instead\"}\n");
    input.extend_from_slice(b"kill 18446744073709551616\n");
    input.extend_from_slice(b"latency 0 7\n");
    stream.write_all(&input).unwrap();
    let mut replies = BufReader::new(stream.try_clone().unwrap()).lines();
    let mut next = || -> Value { serde_json::from_str(&replies.next().unwrap().unwrap()).unwrap() };
    for expected in [
        "empty request",
        "not UTF-8",
        "longer than 1024 bytes",
        "unknown command",
        "not a node id",
    ] {
        let reply = next();
        assert_eq!(
            (&reply["ok"], &reply["kind"]),
            (&json!(false), &json!("usage")),
            "{reply}"
        );
        assert!(
            reply["error"].as_str().unwrap().contains(expected),
            "{reply}"
        );
    }
    assert_eq!(
        next()["node"]["faults"]["latency_us"],
        7,
        "good lines after bad ones are served"
    );

    // A client that connects and says nothing holds up nobody.
    let _silent = UnixStream::connect(&socket).unwrap();
    for _ in 0..5 {
        assert_eq!(served.status()["ok"], true);
    }
    // Nor does one that hangs up in the middle of a line.
    UnixStream::connect(&socket)
        .unwrap()
        .write_all(b"lat")
        .unwrap();
    assert_eq!(served.status()["nodes"][0]["faults"]["latency_us"], 7);
}

#[test]
fn sigterm_and_sigint_stop_the_fabric_cleanly() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut served = Served::start("--nodes 2");
        let _vm = connect_vm(&served, 1);
        served.signal(signal);
        let status = served.wait_exit();
        assert!(
            status.success(),
            "signal {signal}: {status:?}\n{}",
            served.stderr()
        );
        for file in served.files() {
            assert!(
                !file.exists(),
                "signal {signal}: {} is left behind",
                file.display()
            );
        }
        assert!(
            served.dir().exists(),
            "the directory itself is the caller's"
        );
    }
}

#[test]
fn invalid_fabrics_are_usage_errors_and_create_nothing() {
    for options in [
        "--nodes 1",
        "--nodes 17",
        "--nodes 2 --ram-mib 1",
        "--nodes 2 --multicast 0,2",
        "--nodes 2 --multicast x",
    ] {
        let dir = TempDir::new();
        let out = Command::new(PROGRAM)
            .args(["serve", "--dir"])
            .arg(dir.path())
            .args(options.split_whitespace())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{options}: {out:?}");
        assert!(out.stdout.is_empty(), "{options}: no ready line");
        assert!(!dir.path().join("fabric.mem").exists(), "{options}");
    }
}

#[test]
fn ctl_without_a_fabric_fails() {
    let dir = TempDir::new();
    let out = ctl(dir.path(), "status");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("cannot talk to the fabric"), "{out:?}");
}

#[test]
fn a_directory_is_served_by_one_fabric_at_a_time() {
    let served = Served::start("--nodes 2");
    let out = Command::new(PROGRAM)
        .args(["serve", "--nodes", "2", "--dir"])
        .arg(served.dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already served"),
        "{out:?}"
    );
    assert_eq!(served.status()["ok"], true, "the first one serves on");
    assert!(served.file("node0.sock").exists());
}

/// A non-blocking eventfd for an interrupt vector.
fn eventfd() -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: eventfd returns a new descriptor or -1.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    assert!(fd >= 0, "eventfd: {}", std::io::Error::last_os_error());
    // SAFETY: fd is new and ours.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}

/// Reads and resets an eventfd counter; 0 if it was never signalled.
fn take_events(fd: &std::os::fd::OwnedFd) -> u64 {
    use std::os::fd::AsRawFd;
    let mut buf = [0u8; 8];
    // SAFETY: reads at most 8 bytes into a live 8-byte buffer.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
    if n == 8 {
        u64::from_ne_bytes(buf)
    } else {
        0
    }
}

/// Gives node `vm` an eventfd for its `LINK` vector, as QEMU does when the
/// guest enables MSI-X.
fn watch_link_vector(vm: &Client) -> std::os::fd::OwnedFd {
    use rsio_emu::vfio_user::irq_index;
    use rsio_emu::vfio_user::protocol::irq_set_flags::{ACTION_TRIGGER, DATA_EVENTFD};
    use std::os::fd::AsFd;
    let fd = eventfd();
    vm.set_irqs(
        irq_index::MSIX,
        DATA_EVENTFD | ACTION_TRIGGER,
        u32::from(regs::vector::LINK),
        1,
        &[],
        &[fd.as_fd()],
    )
    .unwrap();
    fd
}

#[test]
fn a_vm_that_vanishes_takes_its_link_down_and_its_peers_get_the_link_interrupt() {
    // What the cluster runner's `kill` step does to a node: its QEMU dies
    // without a word and its socket closes.
    let served = Served::start("--nodes 2");
    let vm0 = connect_vm(&served, 0);
    let vm1 = connect_vm(&served, 1);
    let link = watch_link_vector(&vm0);
    let enable = |vm: &Client| {
        vm.region_write(region_index::BAR0, regs::LINK_CTRL, &1u32.to_le_bytes())
            .unwrap()
    };
    let ack_link_event = |vm: &Client| {
        let event = bar0_read(vm, regs::LINK_EVENT);
        vm.region_write(region_index::BAR0, regs::LINK_EVENT, &event.to_le_bytes())
            .unwrap();
        event
    };
    enable(&vm0);
    enable(&vm1);
    assert_eq!(bar0_read(&vm0, regs::LINK_STATUS), 0b11);
    assert_eq!(ack_link_event(&vm0), 0b10, "node 0 saw node 1 come up");
    assert!(take_events(&link) >= 1, "with a LINK interrupt");

    drop(vm1);
    eventually("node 0 sees node 1's link go down", || {
        bar0_read(&vm0, regs::LINK_STATUS) == 0b01
    });
    assert_eq!(ack_link_event(&vm0), 0b10, "LINK_EVENT latched node 1");
    eventually("node 0 gets a LINK interrupt", || take_events(&link) >= 1);
    let status = served.status();
    assert_eq!(status["nodes"][1]["present"], false);
    assert_eq!(status["nodes"][1]["link_enabled"], false, "reset");
    assert_eq!(status["nodes"][0]["link_status"], 0b01);
    // Node 0's writes to node 1's scratchpads now fail as TARGET_DOWN.
    vm0.region_write(
        region_index::BAR0,
        regs::ERR_STATUS,
        &u32::MAX.to_le_bytes(),
    )
    .unwrap();
    let peer_spad0 = regs::PEER_BASE + regs::PEER_STRIDE + regs::PEER_PEER_SPAD;
    vm0.region_write(region_index::BAR0, peer_spad0, &7u32.to_le_bytes())
        .unwrap();
    assert_eq!(
        bar0_read(&vm0, regs::ERR_STATUS) & regs::Err::TargetDown.bit(),
        regs::Err::TargetDown.bit()
    );

    // A new VM takes node 1's place and enables its link: node 0 sees it
    // come back, with an interrupt.
    let vm1 = connect_vm(&served, 1);
    enable(&vm1);
    eventually("node 0 sees node 1 again", || {
        bar0_read(&vm0, regs::LINK_STATUS) == 0b11
    });
    assert_eq!(ack_link_event(&vm0), 0b10);
    eventually("node 0 gets another LINK interrupt", || {
        take_events(&link) >= 1
    });
}
