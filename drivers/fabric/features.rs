// SPDX-License-Identifier: GPL-2.0

//! The feature modules' side of the core: the [`Feature`] trait they
//! implement (peer events, their messages) and its registration.
//!
//! Every callback runs with the callback lock held ([`CALLBACKS`]), so a
//! registration's drop, which takes it after removing the feature, returns
//! only once no callback of that feature runs or can start: the feature's
//! module may then go. Each feature remembers which peers it was told are
//! up, so it hears `peer_up` and `peer_down` exactly once each, in order,
//! whoever reports them (the core's thread, or `register_feature` for the
//! peers already up).
//!
//! The registered features are listed here ([`FEATURES`]); the layers above
//! (the cluster's thread, the ioctls) call in, this file calls nothing of
//! theirs: `api::register_feature` tells [`register`] which peers are up.

use kernel::prelude::*;
use kernel::sync::atomic::{Atomic, Relaxed};
use kernel::sync::{Arc, Mutex};
use rsio_kernel::module_ref::ModuleRef;

/// A feature module (SISCI, lending, ...) as the core sees it. Callbacks
/// run on the core's thread (`peer_up` also in `register_feature`), may
/// sleep, and must not block for long (other peers wait). They must not
/// register or drop a feature registration, nor wait for a response
/// (`api::request` from a callback fails with `EDEADLK`: the core's thread
/// is the one that would receive it); `api::send_event` is fine.
pub trait Feature: Send + Sync {
    /// A short name for logs.
    fn name(&self) -> &'static CStr;
    /// The message types it owns: `first..first + count`, at or above
    /// `proto::MT_FEATURE_BASE` (0x100), not overlapping another's.
    fn message_types(&self) -> (u16, u16);
    /// Node `node`'s core came up.
    fn peer_up(&self, _node: u32) {}
    /// Node `node`'s core went away: release what involved it.
    fn peer_down(&self, _node: u32) {}
    /// A request of one of its types from `node`: the response payload
    /// goes into `reply` (its length returned), an error is sent back as
    /// the response's status. The payload is untrusted peer input.
    fn request(
        &self,
        _node: u32,
        _mtype: u16,
        _payload: &[u8],
        _reply: &mut [u8],
    ) -> Result<usize> {
        Err(EOPNOTSUPP)
    }
    /// An event of one of its types from `node` (untrusted input).
    fn event(&self, _node: u32, _mtype: u16, _payload: &[u8]) {}
    /// The `/dev/rsio` ioctl numbers it owns: `first..first + count`,
    /// inside [`FEATURE_IOCTL_FIRST`]`..`[`FEATURE_IOCTL_END`] (`(0, 0)`:
    /// none). Owning ioctls needs [`Feature::module`].
    fn ioctl_range(&self) -> (u32, u32) {
        (0, 0)
    }
    /// The module implementing the feature: an open file that used one of
    /// its ioctls holds a reference on it until the file is released.
    fn module(&self) -> Option<&'static ThisModule> {
        None
    }
    /// One of its ioctls (`_IOWR`, the rsio magic, a number in its range)
    /// on the open file `file` (a tag unique per open). Runs in the
    /// caller's context, with no core lock held: it may block.
    fn ioctl(&self, _file: u64, _cmd: u32, _arg: usize) -> Result<isize> {
        Err(ENOTTY)
    }
    /// The open file `file`, which used its ioctls, is released (closed,
    /// or its process died): free what it held.
    fn file_closed(&self, _file: u64) {}
}

/// The first ioctl number feature modules may own (the core's are below).
pub const FEATURE_IOCTL_FIRST: u32 = 0x40;
/// One past the last ioctl number feature modules may own.
pub const FEATURE_IOCTL_END: u32 = 0x100;

/// A registered feature and the peers it was told are up.
pub(crate) struct Slot {
    feature: Arc<dyn Feature>,
    told_up: Atomic<u32>,
    /// Its ioctl numbers (`first..end`; empty: none).
    ioctls: (u32, u32),
    /// Its module, read once at registration.
    module: Option<&'static ThisModule>,
}

rsio_kernel::global_lock! {
    /// Held while a feature's callback runs: unregistering waits for it.
    static CALLBACKS: Mutex<()> = ();
}

rsio_kernel::global_lock! {
    /// The registered features. Held for no longer than a look-up (no
    /// callback runs under it); when both are held, after [`CALLBACKS`].
    static FEATURES: Mutex<KVec<Arc<Slot>>> = KVec::new();
}

/// A feature's registration; dropping it unregisters the feature and
/// returns once none of its callbacks runs (so its module may unload).
pub struct FeatureRegistration {
    slot: Arc<Slot>,
}

fn range(f: &dyn Feature) -> (u32, u32) {
    let (first, count) = f.message_types();
    (u32::from(first), u32::from(first) + u32::from(count))
}

impl Slot {
    // Both run with the callback lock held: load and store do not race.
    fn up(&self, node: u32) {
        let bit = 1u32 << node;
        let told = self.told_up.load(Relaxed);
        if told & bit == 0 {
            self.told_up.store(told | bit, Relaxed);
            self.feature.peer_up(node);
        }
    }

    fn down(&self, node: u32) {
        let bit = 1u32 << node;
        let told = self.told_up.load(Relaxed);
        if told & bit != 0 {
            self.told_up.store(told & !bit, Relaxed);
            self.feature.peer_down(node);
        }
    }
}

/// Registers `feature` (`api::register_feature`): `EINVAL` for message
/// types below the feature range, `EBUSY` if they overlap another
/// feature's. The peers up now, bit n for node n (`up_now`, asked with the
/// callback lock held, so that the core's thread cannot report one in
/// between), are reported through `peer_up` before this returns.
pub(crate) fn register(
    feature: Arc<dyn Feature>,
    up_now: impl FnOnce() -> u32,
) -> Result<FeatureRegistration> {
    let (a, b) = range(&*feature);
    if a < u32::from(crate::logic::proto::MT_FEATURE_BASE) || b > 0x10000 || a == b {
        return Err(EINVAL);
    }
    let (first, count) = feature.ioctl_range();
    let ioctls = (first, first.saturating_add(count));
    let module = feature.module();
    if count > 0
        && (first < FEATURE_IOCTL_FIRST || ioctls.1 > FEATURE_IOCTL_END || module.is_none())
    {
        return Err(EINVAL);
    }
    let slot = Arc::new(
        Slot {
            feature,
            told_up: Atomic::new(0),
            ioctls,
            module,
        },
        GFP_KERNEL,
    )?;
    let _cb = CALLBACKS.lock();
    {
        let mut features = FEATURES.lock();
        for f in features.iter() {
            let (c, d) = range(&*f.feature);
            let (e, g) = f.ioctls;
            if (a < d && c < b) || (ioctls.0 < g && e < ioctls.1) {
                return Err(EBUSY);
            }
        }
        features.push(slot.clone(), GFP_KERNEL)?;
    }
    let up = up_now();
    for n in (0..u32::BITS).filter(|n| up & (1 << n) != 0) {
        slot.up(n);
    }
    Ok(FeatureRegistration { slot })
}

impl Drop for FeatureRegistration {
    fn drop(&mut self) {
        {
            let mut features = FEATURES.lock();
            features.retain(|f| !Arc::ptr_eq(f, &self.slot));
            if features.is_empty() {
                // The list is a static, never dropped: free the vector's
                // buffer with the last feature, or unloading the core
                // would leak it.
                *features = KVec::new();
            }
        }
        // Waits for a callback in flight; none can start after: the
        // feature is no longer listed, and callers list under this lock.
        drop(CALLBACKS.lock());
    }
}

/// Runs `f` on every registered feature with the callback lock held.
fn each(f: impl Fn(&Slot)) {
    let _cb = CALLBACKS.lock();
    let slots = {
        let features = FEATURES.lock();
        let mut v = KVec::new();
        for slot in features.iter() {
            // On allocation failure a feature misses the callback; logged.
            if v.push(slot.clone(), GFP_KERNEL).is_err() {
                pr_warn!(
                    "out of memory: feature {} misses a peer event\n",
                    slot.feature.name()
                );
            }
        }
        v
    };
    for s in slots.iter() {
        f(s);
    }
}

/// The feature owning `mtype`, with the callback lock held by the caller.
fn owner(mtype: u16) -> Option<Arc<Slot>> {
    FEATURES
        .lock()
        .iter()
        .find(|f| {
            let (a, b) = range(&*f.feature);
            (a..b).contains(&u32::from(mtype))
        })
        .cloned()
}

/// Node `node` came up: tell every feature.
pub(crate) fn peer_up(node: u32) {
    each(|s| s.up(node));
}

/// Node `node` went away: tell every feature that knew it up.
pub(crate) fn peer_down(node: u32) {
    each(|s| s.down(node));
}

/// A feature request from `node`.
pub(crate) fn request(node: u32, mtype: u16, payload: &[u8], reply: &mut [u8]) -> Result<usize> {
    let _cb = CALLBACKS.lock();
    owner(mtype)
        .ok_or(EOPNOTSUPP)?
        .feature
        .request(node, mtype, payload, reply)
}

/// A feature event from `node`.
pub(crate) fn event(node: u32, mtype: u16, payload: &[u8]) {
    let _cb = CALLBACKS.lock();
    if let Some(s) = owner(mtype) {
        s.feature.event(node, mtype, payload);
    }
}

/// A feature an open file used through its ioctls, and a reference on its
/// module (so it cannot unload under the file). Fields drop in order: the
/// feature's last reference may go with `slot`, whose code must still be
/// there.
pub(crate) struct FileUse {
    slot: Arc<Slot>,
    _module: ModuleRef,
}

impl FileUse {
    /// The feature owning ioctl number `nr` (`ENOTTY` if none), and a
    /// reference on its module (`ENODEV` if it is unloading).
    fn of_ioctl(nr: u32) -> Result<Self> {
        // Under the list's lock the registration cannot finish dropping:
        // the module is at least alive, maybe going.
        let features = FEATURES.lock();
        let s = features
            .iter()
            .find(|s| (s.ioctls.0..s.ioctls.1).contains(&nr))
            .cloned()
            .ok_or(ENOTTY)?;
        let m = s.module.and_then(ModuleRef::try_get).ok_or(ENODEV)?;
        Ok(FileUse {
            slot: s,
            _module: m,
        })
    }
}

/// The features an open file used through their ioctls.
pub(crate) type FileUses = Mutex<KVec<FileUse>>;

/// Routes ioctl `cmd` of the open file `file` to the feature owning its
/// number (`ENOTTY` if none); takes a reference on the feature's module
/// the first time this file calls it (`ENODEV` if it is unloading).
pub(crate) fn ioctl(uses: &FileUses, file: u64, cmd: u32, arg: usize) -> Result<isize> {
    let nr = crate::uapi::ioc_nr(cmd);
    let slot = {
        let mut u = uses.lock();
        let found = u
            .iter()
            .find(|s| (s.slot.ioctls.0..s.slot.ioctls.1).contains(&nr))
            .map(|s| s.slot.clone());
        match found {
            Some(s) => s,
            None => {
                let new = FileUse::of_ioctl(nr)?;
                let s = new.slot.clone();
                u.push(new, GFP_KERNEL)?;
                s
            }
        }
    };
    slot.feature.ioctl(file, cmd, arg)
}

/// The open file `file` is released: tells each feature it used, then
/// drops the module references.
pub(crate) fn file_closed(uses: &FileUses, file: u64) {
    let used = core::mem::take(&mut *uses.lock());
    for u in used {
        u.slot.feature.file_closed(file);
    }
}
