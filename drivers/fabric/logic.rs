// SPDX-License-Identifier: GPL-2.0

//! The core's pure logic, shared with host tests: the files of the
//! `rsio-fabric-logic` crate (drivers/fabric/logic/), compiled in here.

#![allow(dead_code, unreachable_pub)]

#[path = "logic/src/maps.rs"]
pub(crate) mod maps;
#[path = "logic/src/members.rs"]
pub(crate) mod members;
#[path = "logic/src/proto.rs"]
pub(crate) mod proto;
#[path = "logic/src/ring.rs"]
pub(crate) mod ring;
