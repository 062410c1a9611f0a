//! The engine both ioctl fuzzers run: one call (the argument placed where
//! its pointer class says, timed, checked against the rules every rsio
//! ioctl shares and then the ABI's own, counted and reported), the
//! strategies that are the same for every ABI (random numbers, numbers with
//! rsio's magic, known ioctls with the wrong size or with one to three
//! mutations, valid operations), reopens, forked children, the run loop and
//! the summary.
//!
//! A fuzzer is a [`Fuzzer`] over its ABI state `A`, and supplies the ABI
//! by implementing [`Abi`] for `Fuzzer<A>`: the known ioctls, the fields a
//! mutation may set and their boundary values, valid arguments in the
//! current state, the errnos a call may return and the rules that say
//! when a call must fail.

use super::{
    errname, get, open_device, pick_ptr, put, run_child, ChildEnd, Mem, Ptr, Rng, CHILD_VIOLATION,
    PAGE,
};
use anyhow::Result;
use rsio_uapi::{
    ioc, ioc_dir, ioc_nr, ioc_size, ioc_type, ArgHeader, RSIO_IOC_MAGIC, RSIO_MAX_ARG_SIZE,
};
use std::collections::BTreeMap;
use std::fs::File;
use std::mem::size_of;
use std::ops::RangeInclusive;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Ioctl types the VFS handles itself before the driver sees the call
/// (FIOCLEX, FIONBIO, FIFREEZE, FS_IOC_*, FICLONE, ...): a random number of
/// these types is drawn again.
const VFS_TYPES: &[u32] = &[0x00, 0x15, 0x54, 0x58, 0x66, 0x94];
/// Exit code of a child that could not open the device.
const CHILD_NO_DEVICE: i32 = 4;

/// The command line both fuzzers share (each adds its device and its own).
#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// Iterations (each one ioctl, or a few).
    #[arg(long, default_value_t = 10000)]
    pub(crate) iterations: u64,
    /// Stop after this many seconds if the iterations are not done yet.
    #[arg(long)]
    pub(crate) seconds: Option<u64>,
    /// PRNG seed (default: from the clock; printed either way).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Drop to UID[:GID] (no supplementary groups, no capabilities) before
    /// opening the device, to cover the unprivileged paths.
    #[arg(long, value_name = "UID[:GID]")]
    pub(crate) user: Option<String>,
    /// Print every call.
    #[arg(long)]
    pub(crate) verbose: bool,
}

impl RunArgs {
    /// Drops the privileges if asked to; returns the seed.
    pub(crate) fn start(&self) -> Result<u64> {
        if let Some(u) = &self.user {
            super::drop_privileges(u)?;
        }
        Ok(self.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        }))
    }
}

/// Exits with 0 if the run found no violation, 1 if it did, 2 if it could
/// not run.
pub(crate) fn exit_with(tool: &str, result: Result<u64>) -> ! {
    match result {
        Ok(0) => std::process::exit(0),
        Ok(_) => std::process::exit(1),
        Err(e) => {
            eprintln!("{tool}: {e:#}");
            std::process::exit(2);
        }
    }
}

// --- The ABI as the engine sees it.

/// A known ioctl, with the ABI's own rules for it.
#[derive(Clone, Copy)]
pub(crate) struct Ioctl<Op, R> {
    pub(crate) op: Op,
    pub(crate) name: &'static str,
    pub(crate) cmd: u32,
    /// The first version's size.
    pub(crate) min: usize,
    /// The flags the header may carry.
    pub(crate) flags: u32,
    /// How often a valid operation is this one (per cent of them).
    pub(crate) valid: u64,
    pub(crate) rules: R,
}

/// The entry of `op` in a table of known ioctls.
pub(crate) fn known<Op: Copy + PartialEq, R: Copy>(table: &[Ioctl<Op, R>], op: Op) -> Ioctl<Op, R> {
    *table
        .iter()
        .find(|k| k.op == op)
        .expect("every Op is in the table of known ioctls")
}

/// An id or handle for an argument: a draw in `0..n` picks from the first
/// of `pools` whose range holds it and that is not empty, else from
/// `special` if the draw is its, else an id below 64.
pub(crate) fn pick_id(
    rng: &mut Rng,
    n: u64,
    pools: &[(RangeInclusive<u64>, &[u32])],
    special: (u64, &[u32]),
) -> u32 {
    let r = rng.below(n);
    let pool = pools
        .iter()
        .find(|(draws, pool)| draws.contains(&r) && !pool.is_empty());
    match pool {
        Some((_, pool)) => rng.pick(pool),
        None if r == special.0 => rng.pick(special.1),
        None => rng.below(64) as u32,
    }
}

/// A field a mutation may set; `dom` says what its values mean, for its
/// boundary values.
#[derive(Clone, Copy)]
pub(crate) struct Field<D> {
    pub(crate) name: &'static str,
    pub(crate) off: usize,
    pub(crate) w: usize,
    pub(crate) dom: D,
}

pub(crate) const fn f<D>(name: &'static str, off: usize, w: usize, dom: D) -> Field<D> {
    Field { name, off, w, dom }
}

/// What an embedded user pointer of ours points into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EmbRegion {
    /// A list array (the kernel writes it).
    Entries,
    /// A data buffer (the kernel reads or writes it).
    Data,
}

/// One call.
pub(crate) struct Call<X> {
    pub(crate) cmd: u32,
    /// The struct's bytes as placed (what fit before a guard page).
    pub(crate) bytes: Vec<u8>,
    pub(crate) arg: Ptr,
    /// The embedded pointer's class.
    pub(crate) emb: Option<Ptr>,
    /// What else the call hands the kernel (the ABI's business).
    pub(crate) extra: X,
    /// How the call was made, for reports.
    pub(crate) what: String,
}

pub(crate) struct Outcome {
    pub(crate) rc: i64,
    pub(crate) errno: i32,
    pub(crate) elapsed: Duration,
    /// Where the argument was.
    pub(crate) addr: u64,
}

#[derive(Default)]
pub(crate) struct Stats {
    iterations: u64,
    calls: u64,
    successes: u64,
    slow: u64,
    reopens: u64,
    children: u64,
    children_killed: u64,
    /// Per call name: how often each errno (0: success).
    pub(crate) per_call: BTreeMap<&'static str, BTreeMap<i32, u64>>,
    /// Per call name: calls the ABI lets succeed, and of those, how many
    /// failed (state, a peer down, no transport: not a violation, but a
    /// measure of how much of the fuzzing reaches past the argument checks).
    may_succeed: BTreeMap<&'static str, (u64, u64)>,
    violations: u64,
}

/// A fuzzer: what every ABI needs, and the ABI's own state in `abi`.
pub(crate) struct Fuzzer<A> {
    pub(crate) device: String,
    pub(crate) file: File,
    pub(crate) rng: Rng,
    pub(crate) mem: Mem,
    pub(crate) stats: Stats,
    /// Ids or handles gone (removed, or of a closed file).
    pub(crate) stale: Vec<u32>,
    /// This is a forked child: a violation ends it.
    pub(crate) child: bool,
    pub(crate) verbose: bool,
    pub(crate) iteration: u64,
    pub(crate) abi: A,
}

impl<A> Fuzzer<A> {
    pub(crate) fn new(device: &str, file: File, seed: u64, verbose: bool, abi: A) -> Self {
        Fuzzer {
            device: device.to_string(),
            file,
            rng: Rng::new(seed),
            mem: Mem::new(),
            stats: Stats::default(),
            stale: Vec::new(),
            child: false,
            verbose,
            iteration: 0,
            abi,
        }
    }
}

/// A known ioctl of the ABI of `F`.
pub(crate) type KnownOf<F> = Ioctl<<F as Abi>::Op, <F as Abi>::Rules>;

/// What a fuzzer tells the engine about its ABI (implemented by
/// `Fuzzer<A>`).
pub(crate) trait Abi: Sized {
    type Op: Copy + PartialEq + 'static;
    /// A known ioctl's own rules.
    type Rules: Copy + 'static;
    /// What a field's values mean.
    type Dom: Copy + 'static;
    /// What a call hands the kernel beyond the struct.
    type Extra: Default;

    /// The program's name, which starts its output lines.
    const TOOL: &'static str;
    const KNOWN: &'static [KnownOf<Self>];
    /// A call slower than this is reported as slow.
    const SLOW: Duration;
    /// Per mille of the iterations: a random ioctl number, a random number
    /// with rsio's magic, a known ioctl with a wrong size, a mutated known
    /// ioctl, a valid operation, [`Abi::own_strategy`], a reopen; the rest
    /// fork a child.
    const MIX: [u64; 7];
    /// Mutations a known ioctl draws from: 6, or 7 with one
    /// [`Abi::mutate_extra`] may take.
    const MUTATIONS: u64;
    /// How far a mutated embedded pointer may straddle a guard page.
    const EMB_STRADDLE: usize;
    /// Forked children: the longest delay (ms) before a SIGKILL, the
    /// operations of a child to be killed, the most of one that exits.
    const CHILD: (u64, u64, u64);

    /// The known ioctl the driver dispatches `cmd` to.
    fn dispatch(cmd: u32) -> Option<KnownOf<Self>>;
    /// The fields a mutation may set (embedded pointers are mutated apart).
    fn fields(op: Self::Op) -> &'static [Field<Self::Dom>];
    /// The embedded user pointer of an ioctl's struct, if it has one.
    fn embedded(op: Self::Op) -> Option<(usize, EmbRegion)>;
    /// The kernel writes the struct back (so a read-only one fails).
    fn writes_back(k: &KnownOf<Self>) -> bool;
    /// `errno` is one the call may fail with (`k`: the ioctl it reaches).
    fn allows(k: Option<KnownOf<Self>>, errno: i32) -> bool;
    /// Why the ABI's own rules say the call must fail, once it passed the
    /// rules every ioctl shares (`size` is the number's, `flags` the
    /// header's).
    fn must_fail_op(
        &self,
        call: &Call<Self::Extra>,
        k: KnownOf<Self>,
        size: usize,
        flags: u32,
    ) -> Option<String>;
    /// A valid argument for `op` in the current state: the bytes, the
    /// embedded pointer class and the extra.
    fn valid_args(&mut self, op: Self::Op) -> (Vec<u8>, Option<Ptr>, Self::Extra);
    /// Boundary values of the fields of this domain.
    fn boundary_values(&mut self, dom: Self::Dom) -> Vec<u64>;
    /// The direction and number of a random ioctl with rsio's magic.
    fn magic_dir_nr(&mut self) -> (u32, u32);
    /// Follows the state after a call.
    fn after_call(&mut self, call: &Call<Self::Extra>, out: &Outcome);
    /// After a valid operation: follow-up calls, keeping the state bounded.
    fn after_valid(&mut self, op: Self::Op, out: &Outcome);
    /// Replaces the file (the old one closes, and with it its objects).
    fn reopened(&mut self, file: File);
    /// A forked child forgets the parent's objects.
    fn child_reset(&mut self);
    /// One operation of a forked child.
    fn child_op(&mut self);
    /// The summary's per-call table: its title and the width of the names.
    fn per_call_title() -> (&'static str, usize);
    /// What the file holds at the end, for the summary.
    fn held(&self) -> String;

    /// Keeps random bytes from blocking long (say, a wait's timeout).
    fn tame(&mut self, _op: Self::Op, _b: &mut [u8]) {}
    /// The last word on every call's bytes, whatever the strategy made
    /// them (random, mutated, boundary values), before the rules are
    /// applied and the call is placed: an ABI whose valid values would act
    /// on real devices rewrites them out of reach here.
    fn make_safe(&mut self, _op: Self::Op, _b: &mut [u8]) {}
    /// Mutates the extra, if `k` has one: what was done.
    fn mutate_extra(&mut self, _k: KnownOf<Self>, _extra: &mut Self::Extra) -> Option<String> {
        None
    }
    /// Places the extra before the call.
    fn place_extra(&mut self, _call: &Call<Self::Extra>) {}
    /// Prepares for a call that may block: true if [`Abi::after_ioctl`]
    /// must undo something.
    fn before_ioctl(&mut self, _call: &Call<Self::Extra>) -> bool {
        false
    }
    fn after_ioctl(&mut self) {}
    /// The extra, for a report.
    fn describe_extra(_extra: &Self::Extra) -> String {
        String::new()
    }
    /// The ABI's own strategy ([`Abi::MIX`]).
    fn own_strategy(&mut self) {}
    fn after_iteration(&mut self, _iteration: u64) {}
    /// At the end of the run, before the summary.
    fn finish(&mut self) {}
    /// Counters of the ABI's own, lines for the summary.
    fn counters(&self) -> Vec<String> {
        Vec::new()
    }
    /// The end of the summary.
    fn summary_tail(&self) {}
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

impl<A> Fuzzer<A>
where
    Self: Abi,
{
    // --- Calls.

    pub(crate) fn exec(&mut self, mut call: Call<<Self as Abi>::Extra>) -> Outcome {
        if let Some(k) = Self::dispatch(call.cmd) {
            self.make_safe(k.op, &mut call.bytes);
        }
        let must_fail = self.must_fail(&call);
        self.place_extra(&call);
        let addr = self.place(&call);
        let armed = self.before_ioctl(&call);
        let fd = self.file.as_raw_fd();
        let start = Instant::now();
        // SAFETY: the kernel may only write to our dedicated fuzz regions (each followed by a guard page) or to addresses we do not use; the fuzzer itself touches none of them through references.
        let rc = unsafe { libc::ioctl(fd, call.cmd as libc::c_ulong, addr as usize) } as i64;
        let errno = if rc < 0 { last_errno() } else { 0 };
        let elapsed = start.elapsed();
        if armed {
            self.after_ioctl();
        }
        let out = Outcome {
            rc,
            errno,
            elapsed,
            addr,
        };
        self.record(&call, &out, must_fail);
        self.after_call(&call, &out);
        out
    }

    /// A call of `op` with `bytes` at a valid address, nothing embedded.
    pub(crate) fn exec_request(
        &mut self,
        op: <Self as Abi>::Op,
        bytes: Vec<u8>,
        what: &str,
    ) -> Outcome {
        self.exec(Call {
            cmd: known(Self::KNOWN, op).cmd,
            bytes,
            arg: Ptr::Valid,
            emb: None,
            extra: Default::default(),
            what: what.into(),
        })
    }

    /// Writes the argument where its pointer class says; returns its address.
    fn place(&mut self, call: &Call<<Self as Abi>::Extra>) -> u64 {
        match call.arg {
            Ptr::Valid => {
                let off = 8 * self.rng.below(32) as usize;
                self.mem.arg.write(off, &call.bytes);
                self.mem.arg.addr(off)
            }
            Ptr::Misaligned => {
                let off = 8 * self.rng.below(32) as usize + self.rng.range(1, 7) as usize;
                self.mem.arg.write(off, &call.bytes);
                self.mem.arg.addr(off)
            }
            Ptr::Straddle(k) => {
                let addr = self.mem.arg.before_guard(k);
                self.mem
                    .arg
                    .write(self.mem.arg.len - k, &call.bytes[..k.min(call.bytes.len())]);
                addr
            }
            Ptr::ReadOnly => {
                let off = 8 * self.rng.below(8) as usize;
                self.mem.write_ro(off, &call.bytes);
                self.mem.ro.addr(off)
            }
            p => p.fixed_addr(&self.mem),
        }
    }

    /// Sets the embedded pointer field, if `op`'s struct has one, to an
    /// address of class `p`.
    pub(crate) fn set_emb(&mut self, op: <Self as Abi>::Op, b: &mut [u8], p: Ptr) {
        let Some((off, region)) = Self::embedded(op) else {
            return;
        };
        let r = match region {
            EmbRegion::Entries => &self.mem.entries,
            EmbRegion::Data => &self.mem.data,
        };
        let addr = match p {
            Ptr::Valid => r.addr(8 * self.rng.below(64) as usize),
            Ptr::Misaligned => r.addr(self.rng.range(1, 7) as usize),
            Ptr::Straddle(k) => r.before_guard(k),
            // Past where read-only arguments go.
            Ptr::ReadOnly => self.mem.ro.addr(PAGE),
            p => p.fixed_addr(&self.mem),
        };
        put(b, off, 8, addr);
    }

    /// Why the ABI says this call must fail (None: it may succeed).
    pub(crate) fn must_fail(&self, call: &Call<<Self as Abi>::Extra>) -> Option<String> {
        let cmd = call.cmd;
        if ioc_type(cmd) != RSIO_IOC_MAGIC {
            return Some("foreign ioctl type".into());
        }
        let Some(k) = Self::dispatch(cmd) else {
            return Some("unknown ioctl number or direction".into());
        };
        let size = ioc_size(cmd);
        if call.arg.is_bad() {
            return Some(format!("argument pointer {:?}", call.arg));
        }
        if let Ptr::Straddle(n) = call.arg {
            if n < size || n < 8 {
                return Some(format!(
                    "argument straddles a guard page ({n} of {size} bytes mapped)"
                ));
            }
        }
        let c = &call.bytes;
        if size < size_of::<ArgHeader>() {
            return Some("ioctl size below the header".into());
        }
        let hsize = get(c, 0, 4) as usize;
        let flags = get(c, 4, 4) as u32;
        let known_size = ioc_size(k.cmd);
        if hsize != size {
            return Some(format!("header.size {hsize} != ioctl size {size}"));
        }
        if size < k.min {
            return Some(format!("size {size} below the first version's {}", k.min));
        }
        if size > RSIO_MAX_ARG_SIZE {
            return Some(format!("size {size} above RSIO_MAX_ARG_SIZE"));
        }
        if size > known_size
            && c.get(known_size..size.min(c.len()))
                .unwrap_or(&[])
                .iter()
                .any(|&b| b != 0)
        {
            return Some("non-zero bytes beyond the known struct".into());
        }
        if flags & !k.flags != 0 {
            return Some(format!("unknown flags {flags:#x}"));
        }
        if call.arg == Ptr::ReadOnly && Self::writes_back(&k) {
            return Some("read-only argument: the kernel writes the struct back".into());
        }
        self.must_fail_op(call, k, size, flags)
    }

    fn record(
        &mut self,
        call: &Call<<Self as Abi>::Extra>,
        out: &Outcome,
        must_fail: Option<String>,
    ) {
        let k = Self::dispatch(call.cmd);
        let name = match k {
            Some(k) => k.name,
            None if ioc_type(call.cmd) == RSIO_IOC_MAGIC => "magic-other",
            None => "foreign",
        };
        self.count(name, out.errno, out.rc == 0, must_fail.is_none());
        if self.verbose {
            println!(
                "{} {name} cmd {:#010x} arg {:?} {:#x} -> {} ({} us) [{}]",
                self.iteration,
                call.cmd,
                call.arg,
                out.addr,
                if out.rc < 0 {
                    errname(out.errno)
                } else {
                    format!("rc {}", out.rc)
                },
                out.elapsed.as_micros(),
                call.what
            );
        }
        if out.elapsed > Self::SLOW {
            self.stats.slow += 1;
            println!(
                "{}: slow call ({} ms): {name} {}",
                Self::TOOL,
                out.elapsed.as_millis(),
                self.describe(call, out)
            );
        }
        let problem = if out.rc > 0 {
            Some(format!("positive return value {}", out.rc))
        } else if out.rc < 0 && !Self::allows(k, out.errno) {
            Some(format!(
                "errno {} ({}) not one this call may return",
                errname(out.errno),
                out.errno
            ))
        } else if out.rc == 0 {
            must_fail.map(|why| format!("success, but the ABI says it must fail: {why}"))
        } else {
            None
        };
        if let Some(p) = problem {
            self.violation(&format!("{name}: {p}\n  {}", self.describe(call, out)));
        }
    }

    /// Counts a call (an ioctl, or another system call the fuzzer makes).
    pub(crate) fn count(&mut self, name: &'static str, errno: i32, ok: bool, may_succeed: bool) {
        self.stats.calls += 1;
        *self
            .stats
            .per_call
            .entry(name)
            .or_default()
            .entry(errno)
            .or_default() += 1;
        if ok {
            self.stats.successes += 1;
        }
        if may_succeed {
            let e = self.stats.may_succeed.entry(name).or_default();
            e.0 += 1;
            if !ok {
                e.1 += 1;
            }
        }
    }

    fn describe(&self, call: &Call<<Self as Abi>::Extra>, out: &Outcome) -> String {
        let c = call.cmd;
        let hex: String = call
            .bytes
            .iter()
            .take(64)
            .map(|b| format!("{b:02x}"))
            .collect();
        format!(
            "cmd {c:#010x} (dir {} type {:#x} nr {:#x} size {}) arg {:?} at {:#x}, emb {:?}, rc {} errno {} after {} us\n  what: {}\n  bytes[..64]: {hex}{}",
            ioc_dir(c),
            ioc_type(c),
            ioc_nr(c),
            ioc_size(c),
            call.arg,
            out.addr,
            call.emb,
            out.rc,
            errname(out.errno),
            out.elapsed.as_micros(),
            call.what,
            Self::describe_extra(&call.extra)
        )
    }

    pub(crate) fn violation(&mut self, msg: &str) {
        self.stats.violations += 1;
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        eprintln!(
            "{}: VIOLATION at iteration {} (pid {pid}): {msg}",
            Self::TOOL,
            self.iteration
        );
        if self.child {
            // SAFETY: _exit ends this forked child at once, as a child must (no atexit handlers, no unwinding into the parent's state).
            unsafe { libc::_exit(CHILD_VIOLATION) };
        }
    }

    /// These ids or handles are gone: stale ones from now on.
    pub(crate) fn retire(&mut self, gone: impl IntoIterator<Item = u32>) {
        self.stale.extend(gone);
        if self.stale.len() > 256 {
            self.stale.drain(..128);
        }
    }

    // --- Arguments.

    /// A zeroed struct of `op`'s size with a valid header.
    pub(crate) fn request(&self, op: <Self as Abi>::Op) -> Vec<u8> {
        let size = ioc_size(known(Self::KNOWN, op).cmd);
        let mut b = vec![0u8; size];
        put(&mut b, 0, 4, size as u64);
        b
    }

    /// For tests: a call of `op` with a valid header, the rest of the
    /// struct as `edit` leaves it, and valid pointers.
    #[cfg(test)]
    pub(crate) fn call(
        &self,
        op: <Self as Abi>::Op,
        edit: impl FnOnce(&mut Vec<u8>),
    ) -> Call<<Self as Abi>::Extra> {
        let mut bytes = self.request(op);
        edit(&mut bytes);
        Call {
            cmd: known(Self::KNOWN, op).cmd,
            bytes,
            arg: Ptr::Valid,
            emb: Some(Ptr::Valid),
            extra: Default::default(),
            what: String::new(),
        }
    }

    /// A boundary value for a field.
    fn boundary(&mut self, fl: Field<<Self as Abi>::Dom>) -> u64 {
        let generic = [0u64, 1, u32::MAX as u64, u64::MAX, 1 << 63, 1 << 31];
        let extra = self.boundary_values(fl.dom);
        let v = if self.rng.chance(1, 2) {
            self.rng.pick(&generic)
        } else {
            self.rng.pick(&extra)
        };
        if fl.w == 4 {
            v & 0xffff_ffff
        } else {
            v
        }
    }

    /// `size` random bytes (at least a header), half the time with a valid
    /// header.
    fn random_contents(
        &mut self,
        size: usize,
        op: Option<<Self as Abi>::Op>,
    ) -> (Vec<u8>, Option<Ptr>) {
        let mut b = vec![0u8; size.max(8)];
        self.rng.fill(&mut b);
        if self.rng.chance(1, 2) {
            put(&mut b, 0, 4, size as u64);
            put(&mut b, 4, 4, 0);
        }
        // Random bytes must not make the kernel write into our own memory:
        // an embedded pointer always gets one of our classes.
        let mut emb = None;
        if let Some(op) = op {
            if Self::embedded(op).is_some() {
                let p = pick_ptr(&mut self.rng, 4096);
                self.set_emb(op, &mut b, p);
                emb = Some(p);
            }
            self.tame(op, &mut b);
        }
        (b, emb)
    }

    // --- Strategies.

    /// One iteration: a strategy drawn by [`Abi::MIX`].
    fn iterate(&mut self) {
        let strategies: [fn(&mut Self); 7] = [
            Self::fuzz_random_cmd,
            Self::fuzz_magic_cmd,
            Self::fuzz_wrong_size,
            Self::fuzz_known,
            Self::valid_op,
            Self::own_strategy,
            Self::reopen,
        ];
        let mut r = self.rng.below(1000);
        for (weight, strategy) in Self::MIX.into_iter().zip(strategies) {
            if r < weight {
                return strategy(self);
            }
            r -= weight;
        }
        self.fork_child();
    }

    pub(crate) fn fuzz_random_cmd(&mut self) {
        let cmd = loop {
            let c = self.rng.next() as u32;
            if !VFS_TYPES.contains(&ioc_type(c)) {
                break c;
            }
        };
        self.random_call(cmd, false, "random ioctl number".into());
    }

    pub(crate) fn fuzz_magic_cmd(&mut self) {
        let (dir, nr) = self.magic_dir_nr();
        let sizes: Vec<usize> = Self::KNOWN.iter().map(|k| ioc_size(k.cmd)).collect();
        let size = match self.rng.below(4) {
            0 => self.rng.pick(&sizes),
            1 => self.rng.pick(&sizes) + 8,
            2 => self.rng.pick(&[0, 4, 8, 16, 4096, 4097, 0x3fff]),
            _ => self.rng.below(0x4000) as usize,
        };
        let what = format!("magic ioctl dir {dir} nr {nr:#x} size {size}");
        self.random_call(ioc(dir, RSIO_IOC_MAGIC, nr, size), true, what);
    }

    /// A call of `cmd` with random contents, the argument pointer mostly
    /// valid if `mostly_valid`, else of any class.
    fn random_call(&mut self, cmd: u32, mostly_valid: bool, what: String) {
        let size = ioc_size(cmd);
        let (bytes, emb) = self.random_contents(size.min(4200), Self::dispatch(cmd).map(|k| k.op));
        let arg = if mostly_valid && self.rng.chance(2, 3) {
            Ptr::Valid
        } else {
            pick_ptr(&mut self.rng, size)
        };
        self.exec(Call {
            cmd,
            bytes,
            arg,
            emb,
            extra: Default::default(),
            what,
        });
    }

    pub(crate) fn fuzz_wrong_size(&mut self) {
        let k = self.rng.pick(Self::KNOWN);
        let ks = ioc_size(k.cmd);
        let size = loop {
            let s = self.rng.pick(&[
                0,
                4,
                8,
                ks - 8,
                ks - 1,
                ks + 1,
                ks + 4,
                ks + 8,
                2 * ks,
                4096,
                4104,
                0x3fff,
            ]);
            let s = if self.rng.chance(1, 8) {
                self.rng.below(0x4000) as usize
            } else {
                s
            };
            if s != ks {
                break s;
            }
        };
        let cmd = ioc(ioc_dir(k.cmd), RSIO_IOC_MAGIC, ioc_nr(k.cmd), size);
        let (mut b, emb, extra) = self.valid_args(k.op);
        b.resize(size.max(8), 0);
        let hsize = if self.rng.chance(1, 2) { size } else { ks };
        put(&mut b, 0, 4, hsize as u64);
        if let Some(p) = emb {
            self.set_emb(k.op, &mut b, p);
        }
        self.exec(Call {
            cmd,
            bytes: b,
            arg: Ptr::Valid,
            emb,
            extra,
            what: format!(
                "{} with size {size} in the number, header.size {hsize}",
                k.name
            ),
        });
    }

    /// A valid call of a known ioctl with one to three mutations.
    pub(crate) fn fuzz_known(&mut self) {
        let k = self.rng.pick(Self::KNOWN);
        let mut cmd = k.cmd;
        let (mut b, mut emb, mut extra) = self.valid_args(k.op);
        if let Some(p) = emb {
            self.set_emb(k.op, &mut b, p);
        }
        let mut arg = Ptr::Valid;
        let mut what = Vec::new();
        for _ in 0..self.rng.range(1, 3) {
            let mutation = self.rng.below(Self::MUTATIONS);
            match mutation {
                0 => {
                    arg = pick_ptr(&mut self.rng, b.len());
                    what.push(format!("arg {arg:?}"));
                }
                1 => what.push(self.mutate_size(k, &mut b, &mut cmd)),
                2 => {
                    let flags = match self.rng.below(4) {
                        0 => 0,
                        1 => 1u64 << self.rng.below(32),
                        2 => k.flags as u64,
                        _ => u32::MAX as u64,
                    };
                    put(&mut b, 4, 4, flags);
                    what.push(format!("flags {flags:#x}"));
                }
                3 | 4 => {
                    let fl = self.rng.pick(Self::fields(k.op));
                    let v = self.boundary(fl);
                    put(&mut b, fl.off, fl.w, v);
                    what.push(format!("{} = {v:#x}", fl.name));
                }
                _ => {
                    if mutation == 5 {
                        if let Some(w) = self.mutate_extra(k, &mut extra) {
                            what.push(w);
                            continue;
                        }
                    }
                    if Self::embedded(k.op).is_some() {
                        let p = pick_ptr(&mut self.rng, Self::EMB_STRADDLE);
                        self.set_emb(k.op, &mut b, p);
                        emb = Some(p);
                        what.push(format!("embedded pointer {p:?}"));
                    } else {
                        let end = b.len().min(ioc_size(k.cmd));
                        self.rng.fill(&mut b[8..end]);
                        self.tame(k.op, &mut b);
                        what.push("random body".into());
                    }
                }
            }
        }
        // A straddling pointer must straddle what is actually passed.
        if let Ptr::Straddle(n) = arg {
            arg = Ptr::Straddle(n.min(b.len().saturating_sub(1)));
        }
        let what = format!("{} mutated: {}", k.name, what.join(", "));
        self.exec(Call {
            cmd,
            bytes: b,
            arg,
            emb,
            extra,
            what,
        });
    }

    /// Sets header.size, mostly with the ioctl number following it;
    /// returns what was done.
    fn mutate_size(&mut self, k: KnownOf<Self>, b: &mut Vec<u8>, cmd: &mut u32) -> String {
        let ks = ioc_size(k.cmd);
        let (size, tail) = match self.rng.below(7) {
            0 => (0, false),
            1 => (self.rng.range(1, 8) as usize, false),
            2 => (ks, false),
            3 | 4 => (ks + 8, false),
            5 => (ks + 8, true),
            _ => (
                self.rng.pick(&[4097, 8192, 0x3fff, u32::MAX as usize]),
                self.rng.chance(1, 2),
            ),
        };
        b.resize(size.clamp(8, 16384).max(b.len()), 0);
        if tail && size > ks {
            let end = size.min(b.len());
            self.rng.fill(&mut b[ks..end]);
            b[end - 1] |= 1;
        }
        put(b, 0, 4, size as u64);
        if self.rng.chance(3, 4) {
            *cmd = ioc(ioc_dir(k.cmd), RSIO_IOC_MAGIC, ioc_nr(k.cmd), size);
        }
        format!(
            "header.size {size}{}",
            if tail { " non-zero tail" } else { "" }
        )
    }

    /// A valid call of `op` in the current state.
    pub(crate) fn valid_call(
        &mut self,
        op: <Self as Abi>::Op,
        what: &str,
    ) -> Call<<Self as Abi>::Extra> {
        let (mut bytes, emb, extra) = self.valid_args(op);
        if let Some(p) = emb {
            self.set_emb(op, &mut bytes, p);
        }
        let cmd = known(Self::KNOWN, op).cmd;
        let what = what.into();
        Call {
            cmd,
            bytes,
            arg: Ptr::Valid,
            emb,
            extra,
            what,
        }
    }

    /// A valid operation, drawn by the weights of the known ioctls.
    pub(crate) fn valid_op(&mut self) {
        let total: u64 = Self::KNOWN.iter().map(|k| k.valid).sum();
        let mut r = self.rng.below(total);
        let k = *Self::KNOWN
            .iter()
            .find(|k| {
                let hit = r < k.valid;
                r = r.saturating_sub(k.valid);
                hit
            })
            .expect("the weights cover the draw");
        let call = self.valid_call(k.op, &format!("valid {}", k.name));
        let out = self.exec(call);
        self.after_valid(k.op, &out);
    }

    // --- Files and processes.

    pub(crate) fn reopen(&mut self) {
        self.stats.reopens += 1;
        match open_device(&self.device) {
            Ok(file) => self.reopened(file),
            Err(e) => self.violation(&format!("cannot reopen {}: {e}", self.device)),
        }
    }

    fn fork_child(&mut self) {
        let (max_delay_ms, killed_ops, max_ops) = Self::CHILD;
        let kill = self.rng.chance(1, 2);
        let seed = self.rng.next();
        let delay_ms = self.rng.range(1, max_delay_ms);
        let ops = if kill {
            killed_ops
        } else {
            self.rng.range(1, max_ops)
        };
        self.stats.children += 1;
        let kill_after = kill.then(|| Duration::from_millis(delay_ms));
        match run_child(kill_after, || self.child_main(seed, ops)) {
            ChildEnd::Fine { killed: true } => self.stats.children_killed += 1,
            ChildEnd::Fine { killed: false } => {}
            ChildEnd::Bad(why) => self.violation(&why),
        }
    }

    /// The forked child: its own file and objects, a few operations.
    fn child_main(&mut self, seed: u64, ops: u64) -> ! {
        self.child = true;
        self.rng = Rng::new(seed);
        self.verbose = false;
        self.child_reset();
        self.file = match open_device(&self.device) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{}: child cannot open {}: {e}", Self::TOOL, self.device);
                // SAFETY: _exit ends the forked child without running the parent's cleanup.
                unsafe { libc::_exit(CHILD_NO_DEVICE) };
            }
        };
        for _ in 0..ops {
            self.child_op();
        }
        // SAFETY: _exit ends the forked child without running the parent's cleanup; the kernel closes its file (and drops its mappings).
        unsafe { libc::_exit(0) };
    }

    // --- The run.

    /// The start of the first line: the seed, the run and the privileges.
    pub(crate) fn intro(&self, seed: u64, run: &RunArgs, privileged: bool) -> String {
        format!(
            "{}: seed {seed}, device {}, {} iterations{}, {}",
            Self::TOOL,
            self.device,
            run.iterations,
            run.seconds.map_or(String::new(), |s| format!(" or {s} s")),
            if privileged {
                "privileged (CAP_SYS_ADMIN)"
            } else {
                "unprivileged"
            }
        )
    }

    /// Runs the iterations (or the seconds), prints the summary and the
    /// verdict; returns the violations.
    pub(crate) fn fuzz(&mut self, seed: u64, run: &RunArgs) -> u64 {
        let start = Instant::now();
        let limit = run.seconds.map(Duration::from_secs);
        for it in 0..run.iterations {
            if limit.is_some_and(|l| start.elapsed() >= l) {
                break;
            }
            self.iteration = it;
            self.stats.iterations += 1;
            self.iterate();
            self.after_iteration(it);
        }
        self.finish();
        self.summary(start.elapsed());
        let s = &self.stats;
        println!(
            "{}: {} (seed {seed}, {} iterations, {} calls, {} successes, {} slow, {} violations)",
            Self::TOOL,
            if s.violations == 0 { "PASS" } else { "FAIL" },
            s.iterations,
            s.calls,
            s.successes,
            s.slow,
            s.violations
        );
        s.violations
    }

    fn summary(&self, elapsed: Duration) {
        let s = &self.stats;
        println!(
            "{}: summary after {:.1} s",
            Self::TOOL,
            elapsed.as_secs_f64()
        );
        println!("  iterations  {}", s.iterations);
        println!("  calls       {}", s.calls);
        println!("  successes   {}", s.successes);
        println!("  slow calls  {}", s.slow);
        for line in self.counters() {
            println!("  {line}");
        }
        println!("  reopens     {}", s.reopens);
        println!(
            "  children    {} ({} SIGKILLed)",
            s.children, s.children_killed
        );
        println!("  {} held at the end", self.held());
        let (title, w) = Self::per_call_title();
        println!("{title} (calls: results):");
        for (name, m) in &s.per_call {
            let total: u64 = m.values().sum();
            let parts: Vec<String> = m
                .iter()
                .map(|(e, n)| format!("{} {n}", errname(*e)))
                .collect();
            println!("  {name:<w$} {total:>7}: {}", parts.join(", "));
        }
        println!("calls the ABI lets succeed (failed anyway):");
        for (name, (n, failed)) in &s.may_succeed {
            println!("  {name:<w$} {n:>7} ({failed} failed)");
        }
        self.summary_tail();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_the_first_pool_that_holds_the_draw() {
        let mut rng = Rng::new(7);
        let (live, stale): (&[u32], &[u32]) = (&[100, 101], &[200]);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..1000 {
            let id = pick_id(&mut rng, 10, &[(0..=6, live), (0..=7, stale)], (8, &[300]));
            assert!(id < 64 || [100, 101, 200, 300].contains(&id), "{id}");
            seen.insert(if id < 64 { 0 } else { id });
        }
        let all: std::collections::BTreeSet<u32> = [0, 100, 101, 200, 300].into();
        assert_eq!(seen, all, "live, stale, special and random ids all come up");
        // Empty pools fall through to a random id.
        for _ in 0..100 {
            assert!(pick_id(&mut rng, 8, &[(0..=7, &[])], (9, &[300])) < 64);
        }
    }
}
