// SPDX-License-Identifier: GPL-2.0

//! The feature modules' side of the core: the [`Feature`] trait they
//! implement (peer events, their messages) and its registration.

use crate::cluster::Cluster;
use crate::registry;
use kernel::prelude::*;
use kernel::sync::Arc;

/// A feature module (SISCI, lending, ...) as the core sees it. Every
/// method runs on the core's thread, may sleep, and must not block for
/// long (other peers wait).
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
    fn request(&self, _node: u32, _mtype: u16, _payload: &[u8], _reply: &mut [u8]) -> Result<usize> {
        Err(EOPNOTSUPP)
    }
    /// An event of one of its types from `node` (untrusted input).
    fn event(&self, _node: u32, _mtype: u16, _payload: &[u8]) {}
}

/// A feature's registration; dropping it unregisters the feature (no
/// callback runs after the drop returns... once the core's thread is done
/// with the current one).
pub struct FeatureRegistration {
    feature: Arc<dyn Feature>,
}

fn range(f: &dyn Feature) -> (u32, u32) {
    let (first, count) = f.message_types();
    (u32::from(first), u32::from(first) + u32::from(count))
}

/// Registers `feature`: `EINVAL` for message types below the feature
/// range, `EBUSY` if they overlap another feature's. Peers already up are
/// reported through `peer_up` at once.
pub fn register_feature(feature: Arc<dyn Feature>) -> Result<FeatureRegistration> {
    let (a, b) = range(&*feature);
    if a < u32::from(crate::logic::proto::MT_FEATURE_BASE) || b > 0x10000 {
        return Err(EINVAL);
    }
    let cluster = registry::with(|s| -> Result<_> {
        for f in s.features.iter() {
            let (c, d) = range(&**f);
            if a < d && c < b {
                return Err(EBUSY);
            }
        }
        s.features.push(feature.clone(), GFP_KERNEL)?;
        Ok(s.cluster.clone())
    })?;
    if let Some(c) = cluster {
        let up = c.up_mask();
        for n in c.peer_ids().filter(|n| up & (1 << n) != 0) {
            feature.peer_up(n);
        }
    }
    Ok(FeatureRegistration { feature })
}

impl Drop for FeatureRegistration {
    fn drop(&mut self) {
        registry::with(|s| {
            s.features.retain(|f| !Arc::ptr_eq(f, &self.feature));
            if s.features.is_empty() {
                // The registry is a static, never dropped: free the
                // vector's buffer with the last feature, or unloading the
                // core would leak it.
                s.features = KVec::new();
            }
        });
    }
}

fn snapshot() -> KVec<Arc<dyn Feature>> {
    registry::with(|s| {
        let mut v = KVec::new();
        for f in s.features.iter() {
            // On allocation failure a feature misses the callback; logged.
            if v.push(f.clone(), GFP_ATOMIC).is_err() {
                pr_warn!("out of memory: feature {} misses a peer event\n", f.name());
            }
        }
        v
    })
}

fn owner(mtype: u16) -> Option<Arc<dyn Feature>> {
    registry::with(|s| {
        s.features
            .iter()
            .find(|f| {
                let (a, b) = range(&***f);
                (a..b).contains(&u32::from(mtype))
            })
            .cloned()
    })
}

pub(crate) fn peer_up(_c: &Cluster, node: u32) {
    for f in snapshot().iter() {
        f.peer_up(node);
    }
}

pub(crate) fn peer_down(_c: &Cluster, node: u32) {
    for f in snapshot().iter() {
        f.peer_down(node);
    }
}

pub(crate) fn request(_c: &Cluster, node: u32, mtype: u16, payload: &[u8], reply: &mut [u8]) -> Result<usize> {
    owner(mtype).ok_or(EOPNOTSUPP)?.request(node, mtype, payload, reply)
}

pub(crate) fn event(_c: &Cluster, node: u32, mtype: u16, payload: &[u8]) {
    if let Some(f) = owner(mtype) {
        f.event(node, mtype, payload);
    }
}
