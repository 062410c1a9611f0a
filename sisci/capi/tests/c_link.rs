// SPDX-License-Identifier: GPL-2.0

//! Compiles a C program with `sisci/include` and links it to `libsisci.a`
//! (the staticlib cargo built for this test run), then runs it: on a host
//! without `/dev/sisci` it must print a clean error, not crash.

use std::path::PathBuf;
use std::process::Command;

const PROGRAM: &str = r#"
#include <stdio.h>
#include <string.h>
#include "sisci_api.h"
#include "sisci_error.h"

int main(void)
{
    sci_error_t err = SCI_ERR_OK;
    sci_desc_t sd = NULL;
    sci_local_segment_t seg;
    unsigned int node;

    if (SCI_ERR_NO_SUCH_SEGMENT != 0x4000090C || SCI_ERR_NOT_IMPLEMENTED != 0x40000907) {
        printf("bad error values\n");
        return 3;
    }
    SCIOpen(&sd, NO_FLAGS, &err);
    if (err != SCI_ERR_NOT_INITIALIZED) { printf("open before init: %x\n", err); return 3; }
    SCIInitialize(NO_FLAGS, &err);
    if (err != SCI_ERR_OK) { printf("init: %x\n", err); return 3; }
    SCICreateSegment(NULL, &seg, 1, 4096, NO_CALLBACK, NO_ARG, NO_FLAGS, &err);
    if (err != SCI_ERR_ILLEGAL_PARAMETER) { printf("NULL sd: %x\n", err); return 3; }
    SCIGetLocalNodeId(0, NULL, NO_FLAGS, &err);
    if (err != SCI_ERR_ILLEGAL_PARAMETER) { printf("NULL node: %x\n", err); return 3; }
    SCIPrepareSegment(NULL, 0, NO_FLAGS, &err);
    if (err != SCI_ERR_ILLEGAL_PARAMETER) { printf("NULL segment: %x\n", err); return 3; }
    SCIGetLocalNodeId(0, &node, NO_FLAGS, &err);
    SCIOpen(&sd, NO_FLAGS, &err);
    if (err != SCI_ERR_OK) {
        printf("SCIOpen: %s\n", SCIGetErrorString(err));
        SCITerminate();
        return 1;
    }
    printf("SCIOpen: ok\n");
    SCIClose(sd, NO_FLAGS, &err);
    SCITerminate();
    return 0;
}
"#;

fn target_dir() -> PathBuf {
    // .../target/<profile>/deps/c_link-<hash>
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

#[test]
fn c_program_links_against_the_staticlib() {
    let dir = target_dir();
    let lib = dir.join("libsisci.a");
    if !lib.exists() {
        // `cargo test` alone need not build the staticlib (only
        // `cargo build` of the profile does, as tools/test.sh runs first):
        // say so instead of failing for a build step not taken.
        eprintln!(
            "{} not built (cargo build -p sisci-capi first): skipped",
            lib.display()
        );
        return;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    if Command::new(&cc).arg("--version").output().is_err() {
        eprintln!("no C compiler ({cc}): skipped");
        return;
    }
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let src = tmp.join("sisci_c_link.c");
    let bin = tmp.join("sisci_c_link");
    std::fs::write(&src, PROGRAM).unwrap();
    let include = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../include");
    let st = Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&bin)
        .arg(&src)
        .arg("-I")
        .arg(&include)
        .arg(&lib)
        .args([
            "-lpthread",
            "-ldl",
            "-lm",
            "-lrt",
            "-lgcc_s",
            "-lutil",
            "-lc",
        ])
        .status()
        .unwrap();
    assert!(st.success(), "cc failed");
    let out = Command::new(&bin)
        .env("SISCI_DEVICE", "/nonexistent/sisci")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "stdout: {stdout}");
    assert!(
        stdout.contains("SCIOpen: no such adapter"),
        "stdout: {stdout}"
    );
}
