// SPDX-License-Identifier: GPL-2.0

//! How the generic NTB path starts the core: [`NtbHooks`], the
//! [`CoreHooks`] `ntb_transport.rs` calls when it gets an `ntb_dev`
//! (module parameter `generic_ntb`). The adapter path's counterpart is
//! `adapter_transport.rs`'s client.

use crate::cluster::{Cluster, Sink};
use crate::ntb_transport::CoreHooks;
use crate::registry;
use crate::transport::{Events, Transport};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

/// How the generic NTB path (ntb_transport.rs) starts the core.
#[pin_data]
pub(crate) struct NtbHooks {
    /// The sink made by `new_events`, taken by the `attach` that follows.
    #[pin]
    sink: Mutex<Option<Arc<Sink>>>,
}

impl NtbHooks {
    /// Hooks with nothing pending.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                sink <- new_mutex!(None, "rsio_fabric::NtbHooks::sink"),
            }),
            GFP_KERNEL,
        )
    }
}

/// A cluster started by the NTB client; stopped when dropped.
struct NtbAttachment(Arc<Cluster>);

impl Drop for NtbAttachment {
    fn drop(&mut self) {
        registry::detach(&self.0);
    }
}

impl CoreHooks for NtbHooks {
    fn new_events(&self) -> Result<Arc<dyn Events>> {
        let s = Sink::new()?;
        *self.sink.lock() = Some(s.clone());
        Ok(s)
    }

    fn attach(
        &self,
        transport: Arc<dyn Transport>,
        _events: Arc<dyn Events>,
    ) -> Result<KBox<dyn Send + Sync>> {
        let sink = self.sink.lock().take().ok_or(EINVAL)?;
        let c = Cluster::start(sink, transport)?;
        if let Err(e) = registry::attach(&c) {
            c.stop();
            return Err(e);
        }
        Ok(KBox::new(NtbAttachment(c), GFP_KERNEL)?)
    }
}
