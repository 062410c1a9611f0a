// SPDX-License-Identifier: GPL-2.0

//! Public SISCI calls rsio does not implement: present (so programs link)
//! and answering `SCI_ERR_NOT_IMPLEMENTED`.

use crate::ffi::call;
use crate::types::*;
use std::ffi::{c_uint, c_void};

fn not_implemented(error: *mut sci_error_t) {
    call(error, (), || Err(SCI_ERR_NOT_IMPLEMENTED))
}

/// `SCIAttachPhysicalMemory`: not implemented.
#[no_mangle]
pub extern "C" fn SCIAttachPhysicalMemory(
    _ioaddress: u64,
    _address: *mut c_void,
    _bus_no: c_uint,
    _size: usize,
    _segment: Handle,
    _flags: c_uint,
    error: *mut sci_error_t,
) {
    not_implemented(error)
}

/// `SCIAttachLocalSegment`: not implemented.
#[no_mangle]
pub extern "C" fn SCIAttachLocalSegment(
    _sd: Handle,
    _segment: *mut Handle,
    _segment_id: c_uint,
    _size: *mut usize,
    _callback: sci_cb_local_segment_t,
    _arg: *mut c_void,
    _flags: c_uint,
    error: *mut sci_error_t,
) {
    not_implemented(error)
}

/// `SCIShareSegment`: not implemented.
#[no_mangle]
pub extern "C" fn SCIShareSegment(_segment: Handle, _flags: c_uint, error: *mut sci_error_t) {
    not_implemented(error)
}

/// `SCIStartDmaTransferMem`: not implemented (DMA needs a local segment).
#[no_mangle]
pub extern "C" fn SCIStartDmaTransferMem(
    _dq: Handle,
    _local_address: *mut c_void,
    _remote: Handle,
    _size: usize,
    _remote_offset: usize,
    _callback: sci_cb_dma_t,
    _arg: *mut c_void,
    _flags: c_uint,
    error: *mut sci_error_t,
) {
    not_implemented(error)
}

/// `SCIRequestDMAChannel`: not implemented (queues use any channel).
#[no_mangle]
pub extern "C" fn SCIRequestDMAChannel(
    _sd: Handle,
    _channel: *mut Handle,
    _adapter: c_uint,
    _type: c_uint,
    _channel_id: c_uint,
    _flags: c_uint,
    error: *mut sci_error_t,
) {
    not_implemented(error)
}

/// `SCIReturnDMAChannel`: not implemented.
#[no_mangle]
pub extern "C" fn SCIReturnDMAChannel(_channel: Handle, error: *mut sci_error_t) {
    not_implemented(error)
}

/// `SCIAssignDMAChannel`: not implemented.
#[no_mangle]
pub extern "C" fn SCIAssignDMAChannel(
    _channel: Handle,
    _dq: Handle,
    _flags: c_uint,
    error: *mut sci_error_t,
) {
    not_implemented(error)
}

/// `SCIRegisterInterruptFlag`: not implemented.
#[no_mangle]
pub extern "C" fn SCIRegisterInterruptFlag(
    _adapter: c_uint,
    _interrupt: *mut Handle,
    _segment: Handle,
    _offset: usize,
    _callback: sci_cb_interrupt_t,
    _arg: *mut c_void,
    _flags: c_uint,
    error: *mut sci_error_t,
) {
    not_implemented(error)
}

/// `SCIEnableConditionalInterrupt`: not implemented.
#[no_mangle]
pub extern "C" fn SCIEnableConditionalInterrupt(
    _interrupt: Handle,
    _flags: c_uint,
    error: *mut sci_error_t,
) {
    not_implemented(error)
}

/// `SCIDisableConditionalInterrupt`: not implemented.
#[no_mangle]
pub extern "C" fn SCIDisableConditionalInterrupt(
    _interrupt: Handle,
    _flags: c_uint,
    error: *mut sci_error_t,
) {
    not_implemented(error)
}

/// `SCIGetConditionalInterruptTrigCounter`: not implemented.
#[no_mangle]
pub extern "C" fn SCIGetConditionalInterruptTrigCounter(
    _interrupt: Handle,
    _counter: *mut c_uint,
    _flags: c_uint,
    error: *mut sci_error_t,
) {
    not_implemented(error)
}

/// `SCICacheSync`: not implemented (mappings are coherent).
#[no_mangle]
pub extern "C" fn SCICacheSync(
    _map: Handle,
    _addr: *mut c_void,
    _length: usize,
    _flags: c_uint,
    error: *mut sci_error_t,
) {
    not_implemented(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stubs_answer_not_implemented() {
        let mut e = SCI_ERR_OK;
        SCIShareSegment(std::ptr::null_mut(), 0, &mut e);
        assert_eq!(e, SCI_ERR_NOT_IMPLEMENTED);
        SCIReturnDMAChannel(std::ptr::null_mut(), std::ptr::null_mut());
    }
}
