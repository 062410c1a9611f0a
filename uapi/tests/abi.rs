//! The ABI as user space and the kernel see it: numbers, layouts, validation.

use rsio_uapi::*;

const V1: ArgLayout = RsioVersion::LAYOUT;

fn header(size: usize, flags: u32) -> ArgHeader {
    ArgHeader {
        size: size as u32,
        flags,
    }
}

#[test]
fn version_ioctl_number_matches_linux_iowr_encoding() {
    // _IOWR(0xD1, 0x00, 128 bytes) = dir 3 << 30 | size 128 << 16 | type 0xD1 << 8 | nr 0.
    assert_eq!(RSIO_IOC_VERSION, 0xC080_D100);
    assert_eq!(ioc_dir(RSIO_IOC_VERSION), IOC_READ | IOC_WRITE);
    assert_eq!(ioc_type(RSIO_IOC_VERSION), RSIO_IOC_MAGIC);
    assert_eq!(ioc_nr(RSIO_IOC_VERSION), 0);
    assert_eq!(ioc_size(RSIO_IOC_VERSION), 128);
}

#[test]
fn a_current_caller_is_accepted_and_copies_the_whole_struct() {
    let r = check_arg(RSIO_IOC_VERSION, header(128, 0), V1, |_| unreachable!());
    assert_eq!(r, Ok(128));
}

#[test]
fn a_size_field_that_disagrees_with_the_ioctl_number_is_einval() {
    let r = check_arg(RSIO_IOC_VERSION, header(120, 0), V1, |_| true);
    assert_eq!(r, Err(ArgError::SizeMismatch));
    assert_eq!(ArgError::SizeMismatch.errno(), 22);
}

#[test]
fn a_struct_smaller_than_the_first_version_is_einval() {
    let cmd = rsio_iowr(0x00, 64);
    assert_eq!(
        check_arg(cmd, header(64, 0), V1, |_| true),
        Err(ArgError::TooSmall)
    );
}

#[test]
fn a_newer_callers_zero_tail_is_accepted_and_ignored() {
    let cmd = rsio_iowr(0x00, 160);
    assert_eq!(check_arg(cmd, header(160, 0), V1, |n| n == 32), Ok(128));
}

#[test]
fn a_newer_callers_non_zero_tail_is_e2big() {
    let cmd = rsio_iowr(0x00, 160);
    let r = check_arg(cmd, header(160, 0), V1, |_| false);
    assert_eq!(r, Err(ArgError::UnknownTrailingBytes));
    assert_eq!(ArgError::UnknownTrailingBytes.errno(), 7);
}

#[test]
fn a_struct_beyond_the_abi_maximum_is_e2big() {
    let cmd = rsio_iowr(0x00, RSIO_MAX_ARG_SIZE + 8);
    let r = check_arg(cmd, header(RSIO_MAX_ARG_SIZE + 8, 0), V1, |_| true);
    assert_eq!(r, Err(ArgError::TooLarge));
}

#[test]
fn undefined_flags_are_einval() {
    let r = check_arg(RSIO_IOC_VERSION, header(128, 1), V1, |_| true);
    assert_eq!(r, Err(ArgError::UnknownFlags));
}

#[test]
fn a_version_request_carries_its_own_size_and_no_flags() {
    let r = RsioVersion::request();
    assert_eq!(r.header, header(128, 0));
    assert_eq!(
        check_arg(RSIO_IOC_VERSION, r.header, V1, |_| false),
        Ok(128)
    );
}

#[test]
fn strings_are_nul_terminated_and_truncated_to_fit() {
    let mut buf = [0xffu8; 8];
    copy_cstr(&mut buf, b"0.1.0");
    assert_eq!(&buf, b"0.1.0\0\0\0");
    copy_cstr(&mut buf, b"a-very-long-release");
    assert_eq!(&buf, b"a-very-\0");
    assert_eq!(cstr_bytes(&buf), b"a-very-");
    assert_eq!(cstr_bytes(b"full"), b"full");
}

/// The C header must describe the same ABI: compile it with the host's C
/// compiler and compare the numbers it computes with ours.
#[test]
fn the_c_header_agrees_with_the_rust_definitions() {
    let dir = std::env::temp_dir().join(format!("rsio-uapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("check.c");
    let exe = dir.join("check");
    std::fs::write(
        &src,
        r#"#include <stdio.h>
#include <stddef.h>
#include "rsio.h"
int main(void) {
    printf("%u %zu %zu %zu %zu\n", (unsigned)RSIO_IOC_VERSION, sizeof(struct rsio_version),
        offsetof(struct rsio_version, features), offsetof(struct rsio_version, release),
        offsetof(struct rsio_version, kernel_release));
    return 0;
}
"#,
    )
    .unwrap();
    let include = concat!(env!("CARGO_MANIFEST_DIR"), "/include");
    let status = std::process::Command::new("cc")
        .args(["-std=c11", "-Wall", "-Werror", "-I", include, "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("run the host C compiler");
    assert!(status.success(), "uapi/include/rsio.h does not compile");
    let out = std::process::Command::new(&exe).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let v = RsioVersion::request();
    let base = &v as *const _ as usize;
    let expect = format!(
        "{} {} {} {} {}\n",
        RSIO_IOC_VERSION,
        core::mem::size_of::<RsioVersion>(),
        &v.features as *const _ as usize - base,
        &v.release as *const _ as usize - base,
        &v.kernel_release as *const _ as usize - base,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), expect);
}
