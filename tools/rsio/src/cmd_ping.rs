//! `rsio ping`: message round trips with a peer's fabric core, shown like
//! ping(8).

use crate::device::{errno_of, Device};
use crate::format::{cstr, parse_node, rtt_ms};
use crate::{signal, Ctx, Exit, UsageError};
use anyhow::{anyhow, Result};
use clap::Args;
use rsio_uapi as uapi;
use serde_json::{json, Value};
use std::io::Write;
use std::time::{Duration, Instant};

pub const LONG: &str = "\
Measure message round trips with a peer's fabric core (RSIO_IOC_PING): this
node's core sends a ping message with PAYLOAD bytes through the fabric's
mailboxes, the peer's core echoes it, and the kernel times the round trip.

By default rsio sends one round trip per second until interrupted (SIGINT or
SIGTERM) and prints each like ping(8), then a summary. --batch makes all
COUNT round trips in one ioctl and prints only the summary the kernel
measured. A round trip that is not answered within --timeout ms (ETIMEDOUT),
whose echo does not match (EIO), or that cannot be sent because the peer's
ring is full (EAGAIN) is counted as lost and the next one is tried; if the
peer goes down meanwhile (EHOSTUNREACH, ECONNRESET) rsio stops.

Needs only access to /dev/rsio. The peer must be up (see rsio nodes).";

pub const AFTER: &str = "\
EXAMPLES:
    $ rsio ping 2 -c 3
    PING node 2 (node2): 56 payload bytes
    from node 2 (node2): seq=1 time=0.142 ms
    from node 2 (node2): seq=2 time=0.118 ms
    from node 2 (node2): seq=3 time=0.121 ms

    --- node 2 ping statistics ---
    3 sent, 3 received, 0% lost, time 2003ms
    rtt min/avg/max = 0.118/0.127/0.142 ms

    $ rsio ping 2 -c 1000 -i 0 --json
    {\"lost\":0,\"name\":\"node2\",\"node\":2,\"payload\":56,\"received\":1000,
     \"rtt_avg_ns\":110530,\"rtt_max_ns\":190211,\"rtt_min_ns\":98012,\"sent\":1000,
     \"time_ms\":116}

    $ rsio ping 2 -c 10000 --batch -s 200

EXIT STATUS:
    0   every round trip was answered (also when interrupted)
    1   a round trip was lost, or the ping failed (e.g. EHOSTUNREACH: the node is
        not up; ENODEV: no transport)
    2   usage error (e.g. the node is this node or not in the fabric)";

/// The options of `rsio ping`.
#[derive(Args, Debug)]
pub struct PingArgs {
    /// The peer's node id.
    #[arg(value_parser = parse_node)]
    pub node: u32,
    /// Stop after COUNT round trips (default: until interrupted).
    #[arg(short = 'c', long, value_parser = clap::value_parser!(u32).range(1..))]
    pub count: Option<u32>,
    /// Payload bytes per message, 0 to 200.
    #[arg(
        short = 's',
        long,
        default_value_t = 56,
        value_parser = clap::value_parser!(u32).range(0..=uapi::RSIO_PING_MAX_PAYLOAD as i64)
    )]
    pub payload: u32,
    /// How long to wait for each reply, ms (0: the kernel's default, 1000;
    /// at most 60000).
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 0,
        value_parser = clap::value_parser!(u32).range(0..=uapi::RSIO_MAX_TIMEOUT_MS as i64)
    )]
    pub timeout: u32,
    /// Wait between round trips, ms.
    #[arg(short = 'i', long, value_name = "MS", default_value_t = 1000)]
    pub interval: u64,
    /// Make all COUNT round trips (at most 10000) in one ioctl; print only
    /// the summary.
    #[arg(long, requires = "count")]
    pub batch: bool,
}

/// Round-trip statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Round trips tried.
    pub sent: u64,
    /// Of which answered.
    pub received: u64,
    /// Fastest, ns.
    pub min_ns: u64,
    /// Slowest, ns.
    pub max_ns: u64,
    /// Sum over the answered ones, ns.
    pub sum_ns: u64,
}

impl Stats {
    /// Records an answered round trip.
    pub fn reply(&mut self, rtt_ns: u64) {
        self.min_ns = if self.received == 0 {
            rtt_ns
        } else {
            self.min_ns.min(rtt_ns)
        };
        self.max_ns = self.max_ns.max(rtt_ns);
        self.sum_ns = self.sum_ns.saturating_add(rtt_ns);
        self.sent += 1;
        self.received += 1;
    }

    /// Records a lost round trip.
    pub fn lost(&mut self) {
        self.sent += 1;
    }

    /// Mean round trip, ns (0 without replies).
    pub fn avg_ns(&self) -> u64 {
        self.sum_ns.checked_div(self.received).unwrap_or(0)
    }

    /// Percentage lost, rounded down.
    pub fn lost_percent(&self) -> u64 {
        (self.sent - self.received)
            .saturating_mul(100)
            .checked_div(self.sent)
            .unwrap_or(0)
    }

    /// The summary lines ping(8) prints at the end.
    pub fn summary_text(&self, node: u32, elapsed: Duration) -> String {
        let mut s = format!(
            "\n--- node {node} ping statistics ---\n{} sent, {} received, {}% lost, time {}ms\n",
            self.sent,
            self.received,
            self.lost_percent(),
            elapsed.as_millis()
        );
        if self.received > 0 {
            s += &format!(
                "rtt min/avg/max = {}/{}/{} ms\n",
                rtt_ms(self.min_ns),
                rtt_ms(self.avg_ns()),
                rtt_ms(self.max_ns)
            );
        }
        s
    }

    /// The object `rsio ping --json` prints.
    pub fn summary_json(&self, node: u32, name: &str, payload: u32, elapsed: Duration) -> Value {
        let rtt = |v: u64| {
            if self.received > 0 {
                json!(v)
            } else {
                Value::Null
            }
        };
        json!({
            "node": node,
            "name": name,
            "payload": payload,
            "sent": self.sent,
            "received": self.received,
            "lost": self.sent - self.received,
            "rtt_min_ns": rtt(self.min_ns),
            "rtt_avg_ns": rtt(self.avg_ns()),
            "rtt_max_ns": rtt(self.max_ns),
            "time_ms": elapsed.as_millis() as u64,
        })
    }
}

/// The error for a ping that cannot go on, in the caller's terms.
fn ping_error(e: anyhow::Error, node: u32) -> anyhow::Error {
    match errno_of(&e) {
        Some(libc::EHOSTUNREACH) => {
            anyhow!("node {node} is not up (rsio nodes shows the fabric)")
        }
        _ => e,
    }
}

/// Checks the target against this node's status; returns the peer's name.
pub fn check_target(dev: &Device, node: u32) -> Result<String> {
    let s = dev.status()?;
    if s.transport == uapi::RSIO_TRANSPORT_NONE {
        return Err(anyhow!(
            "the fabric core has no transport: no rsio adapter or NTB device is bound (rsio status)"
        ));
    }
    if node == s.node_id {
        return Err(UsageError(format!("node {node} is this node: ping a peer")).into());
    }
    if node >= s.num_nodes {
        return Err(UsageError(format!(
            "node {node} is not in the fabric (nodes 0..{})",
            s.num_nodes.saturating_sub(1)
        ))
        .into());
    }
    // The name is decoration: without the list, ping anyway.
    let name = dev
        .nodes()
        .ok()
        .and_then(|l| l.into_iter().find(|n| n.node_id == node))
        .map(|n| cstr(&n.name))
        .unwrap_or_default();
    Ok(name)
}

/// `rsio ping`.
pub fn run(ctx: &Ctx, args: &PingArgs) -> Result<()> {
    signal::install()?;
    let dev = ctx.open()?;
    let node = args.node;
    let name = check_target(&dev, node)?;
    let who = if name.is_empty() {
        format!("node {node}")
    } else {
        format!("node {node} ({name})")
    };
    let start = Instant::now();
    let stats = if args.batch {
        batch(ctx, &dev, args, &who)?
    } else {
        one_by_one(ctx, &dev, args, &who)?
    };
    let elapsed = start.elapsed();
    if ctx.json {
        println!("{}", stats.summary_json(node, &name, args.payload, elapsed));
    } else {
        print!("{}", stats.summary_text(node, elapsed));
    }
    if stats.received < stats.sent || stats.sent == 0 {
        return Err(Exit(1).into());
    }
    Ok(())
}

fn batch(ctx: &Ctx, dev: &Device, args: &PingArgs, who: &str) -> Result<Stats> {
    let count = args.count.unwrap_or(1);
    if count > uapi::RSIO_PING_MAX_COUNT {
        return Err(UsageError(format!(
            "--batch makes at most {} round trips",
            uapi::RSIO_PING_MAX_COUNT
        ))
        .into());
    }
    if !ctx.json {
        println!(
            "PING {who}: {} payload bytes, {count} round trips in one request",
            args.payload
        );
    }
    let p = dev
        .ping(args.node, count, args.payload, args.timeout)
        .map_err(|e| ping_error(e.into(), args.node))?;
    Ok(Stats {
        sent: count.into(),
        received: count.into(),
        min_ns: p.rtt_min_ns,
        max_ns: p.rtt_max_ns,
        sum_ns: p.rtt_avg_ns.saturating_mul(count.into()),
    })
}

fn one_by_one(ctx: &Ctx, dev: &Device, args: &PingArgs, who: &str) -> Result<Stats> {
    let mut stats = Stats::default();
    let timeout = match args.timeout {
        0 => uapi::RSIO_DEFAULT_TIMEOUT_MS,
        t => t,
    };
    if !ctx.json {
        println!("PING {who}: {} payload bytes", args.payload);
    }
    let mut seq: u64 = 0;
    while args.count.is_none_or(|c| seq < c.into()) {
        if seq > 0 {
            let next = Instant::now() + Duration::from_millis(args.interval);
            if !signal::sleep_until(Some(next), Duration::from_millis(10)) {
                break;
            }
        }
        if signal::stopped() {
            break;
        }
        seq += 1;
        match dev.ping(args.node, 1, args.payload, args.timeout) {
            Ok(p) => {
                stats.reply(p.rtt_avg_ns);
                if !ctx.json {
                    println!("from {who}: seq={seq} time={} ms", rtt_ms(p.rtt_avg_ns));
                }
            }
            Err(e) => match e.errno() {
                Some(libc::EINTR) => break,
                Some(libc::ETIMEDOUT) => {
                    stats.lost();
                    if !ctx.json {
                        println!("no reply from {who}: seq={seq} (timed out after {timeout} ms)");
                    }
                }
                Some(libc::EIO) => {
                    stats.lost();
                    if !ctx.json {
                        println!(
                            "bad reply from {who}: seq={seq} (echo mismatch or error reply, EIO)"
                        );
                    }
                }
                Some(libc::EAGAIN) => {
                    stats.lost();
                    if !ctx.json {
                        println!("not sent to {who}: seq={seq} (its message ring is full, EAGAIN)");
                    }
                }
                Some(code @ (libc::EHOSTUNREACH | libc::ECONNRESET)) if stats.sent > 0 => {
                    stats.lost();
                    if !ctx.json {
                        let name = crate::device::errno_name(code).unwrap_or("?");
                        println!("{who} went down: seq={seq} ({name})");
                    }
                    break;
                }
                _ => return Err(ping_error(e.into(), args.node)),
            },
        }
        // A test reading our output line by line sees each reply at once.
        std::io::stdout().flush()?;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_track_min_avg_max_and_losses() {
        let mut s = Stats::default();
        s.reply(300_000);
        s.reply(100_000);
        s.lost();
        s.reply(200_000);
        assert_eq!((s.sent, s.received), (4, 3));
        assert_eq!(
            (s.min_ns, s.avg_ns(), s.max_ns),
            (100_000, 200_000, 300_000)
        );
        assert_eq!(s.lost_percent(), 25);
    }

    #[test]
    fn the_summary_reads_like_pings() {
        let mut s = Stats::default();
        s.reply(142_000);
        s.reply(118_000);
        s.reply(121_000);
        assert_eq!(
            s.summary_text(2, Duration::from_millis(2003)),
            "\n--- node 2 ping statistics ---\n\
             3 sent, 3 received, 0% lost, time 2003ms\n\
             rtt min/avg/max = 0.118/0.127/0.142 ms\n"
        );
    }

    #[test]
    fn a_summary_without_replies_has_no_rtt_line() {
        let mut s = Stats::default();
        s.lost();
        let text = s.summary_text(1, Duration::from_millis(1000));
        assert!(text.contains("1 sent, 0 received, 100% lost"));
        assert!(!text.contains("rtt"));
        assert_eq!(Stats::default().lost_percent(), 0);
        assert_eq!(Stats::default().avg_ns(), 0);
    }

    #[test]
    fn the_json_summary_has_counts_and_rtts_in_ns() {
        let mut s = Stats::default();
        s.reply(1000);
        s.lost();
        let j = s.summary_json(2, "node2", 56, Duration::from_millis(5));
        assert_eq!(
            j,
            json!({"node": 2, "name": "node2", "payload": 56, "sent": 2, "received": 1,
                   "lost": 1, "rtt_min_ns": 1000, "rtt_avg_ns": 1000, "rtt_max_ns": 1000,
                   "time_ms": 5})
        );
        let j = Stats::default().summary_json(2, "", 0, Duration::ZERO);
        assert_eq!(j["rtt_avg_ns"], Value::Null);
    }

    #[test]
    fn an_unreachable_node_is_explained() {
        let e = crate::device::IoctlError {
            name: "RSIO_IOC_PING",
            path: "/dev/rsio".into(),
            error: std::io::Error::from_raw_os_error(libc::EHOSTUNREACH),
        };
        assert_eq!(
            ping_error(e.into(), 3).to_string(),
            "node 3 is not up (rsio nodes shows the fabric)"
        );
    }
}
