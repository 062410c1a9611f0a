// SPDX-License-Identifier: GPL-2.0

//! NVMe sharing's pure logic, shared with host tests: the files of the
//! `rsio-nvme-share-logic` crate (nvme_share/logic/), compiled in here.

#![allow(dead_code, unreachable_pub)]

#[path = "logic/src/allot.rs"]
pub(crate) mod allot;
#[path = "logic/src/nvme.rs"]
pub(crate) mod nvme;
#[path = "logic/src/policy.rs"]
pub(crate) mod policy;
#[path = "logic/src/proto.rs"]
pub(crate) mod proto;
#[path = "logic/src/prp.rs"]
pub(crate) mod prp;
