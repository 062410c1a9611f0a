// SPDX-License-Identifier: GPL-2.0

//! The module's global state: the running cluster (one transport at a
//! time). The registered feature modules are listed in `features.rs`.

use crate::cluster::Cluster;
use kernel::prelude::*;
use kernel::sync::Arc;

rsio_kernel::global_lock! {
    /// See the module documentation.
    static STATE: Mutex<State> = State::new();
}

/// See the module documentation.
pub(crate) struct State {
    pub(crate) cluster: Option<Arc<Cluster>>,
}

impl State {
    const fn new() -> Self {
        Self { cluster: None }
    }
}

/// Runs `f` with the state locked. `f` must not call into a cluster (its
/// locks come after this one only through `attach`/`detach`).
pub(crate) fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    f(&mut STATE.lock())
}

/// The running cluster (`ENODEV` without a transport).
pub(crate) fn cluster() -> Result<Arc<Cluster>> {
    with(|s| s.cluster.clone()).ok_or(ENODEV)
}

/// Makes `c` the running cluster (`EBUSY` if there is one).
pub(crate) fn attach(c: &Arc<Cluster>) -> Result {
    with(|s| {
        if s.cluster.is_some() {
            return Err(EBUSY);
        }
        s.cluster = Some(c.clone());
        Ok(())
    })
}

/// Stops `c` and forgets it if it is the running cluster.
pub(crate) fn detach(c: &Arc<Cluster>) {
    with(|s| {
        if s.cluster.as_ref().is_some_and(|x| Arc::ptr_eq(x, c)) {
            s.cluster = None;
        }
    });
    c.stop();
}
