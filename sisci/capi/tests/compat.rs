// SPDX-License-Identifier: GPL-2.0

//! SISCI compatibility of the built library, as a program sees it:
//!
//! - `libsisci.so` and `libsisci.a` export every call `sisci_api.h`
//!   declares under its plain name, `_SISCI_PUBLIC_FUNC_ST_<name>` and
//!   `_SISCI_PUBLIC_FUNC_MT_<name>` (nm);
//! - `make install PREFIX=<tmp>` lays out headers, libraries and
//!   `sisci.pc` as SISCI programs expect (Dolphin's /opt/DIS);
//! - `sisci/examples/c/compat-all.c`, which names every call, constant,
//!   error code and type of the headers (checked here against them), builds
//!   with `-Wall -Wextra -Werror` against that prefix, with and without
//!   `-D_REENTRANT` (linking the `MT`/`ST` names), dynamically, statically
//!   and through pkg-config, and passes its host checks (no kernel: error
//!   strings, argument and flag validation, dlsym of every name);
//! - `tests/call-forms.c` (no library needed): the parameter lists of
//!   several SISCI releases that `SCIMap{Local,Remote}SegmentForDevice`
//!   accept (function-like macros) become the right calls, in every C and
//!   C++ standard (older ones: the current lists only), under each name a
//!   call can link as.
//!
//! It tests the libraries cargo built for this profile (`make test` builds
//! the workspace before `cargo test`); missing tools (cc, make, nm) skip it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

include!("../header_names.rs");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn include_dir() -> PathBuf {
    root().join("sisci/include")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `.../target/<profile>`: where this test binary's crate put the libraries.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool).arg(arg).output().is_ok()
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The newest source the libraries are built from.
fn newest_source() -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    let capi = root().join("sisci/capi");
    let mut files = vec![capi.join("build.rs"), capi.join("header_names.rs")];
    for dir in [
        capi.join("src"),
        root().join("sisci/lib/src"),
        include_dir(),
        include_dir().join("dis"),
    ] {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            files.push(e.path());
        }
    }
    for f in files {
        if f.is_file() {
            newest = newest.max(mtime(&f));
        }
    }
    newest
}

/// The libraries, if built (and not older than their sources).
fn libraries() -> Option<(PathBuf, PathBuf)> {
    let dir = target_dir();
    let (so, a) = (dir.join("libsisci.so"), dir.join("libsisci.a"));
    if !so.exists() || !a.exists() {
        // `cargo test` alone does not build the cdylib/staticlib (make
        // test's `cargo build` does): say so instead of failing.
        eprintln!(
            "{} not built (cargo build -p sisci-capi first): skipped",
            dir.display()
        );
        return None;
    }
    let src = newest_source();
    assert!(
        mtime(&so) >= src && mtime(&a) >= src,
        "{}/libsisci.{{so,a}} are older than their sources: run cargo build -p sisci-capi \
         (with this profile) before cargo test",
        dir.display()
    );
    Some((so, a))
}

/// The names `X(...)` lists in the `#define <list>(X)` block of `c`.
fn x_list(c: &str, list: &str) -> BTreeSet<String> {
    let start = c
        .find(&format!("#define {list}(X)"))
        .unwrap_or_else(|| panic!("compat-all.c has no {list}(X)"));
    let mut names = BTreeSet::new();
    for line in c[start..].lines().skip(1) {
        let mut rest = line;
        while let Some(i) = rest.find("X(") {
            let tail = &rest[i + 2..];
            let j = tail.find(')').unwrap();
            names.insert(tail[..j].to_string());
            rest = &tail[j..];
        }
        if !line.trim_end().ends_with('\\') {
            break;
        }
    }
    names
}

/// The constants a header defines: object-like macros with a value,
/// minus include guards and the exported-name machinery; and the
/// enumerators of its enums.
fn header_constants(text: &str) -> BTreeSet<String> {
    let text = strip_comments(text);
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix("#define ") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let value = rest[name.len()..].trim();
        if rest[name.len()..].starts_with('(')
            || value.is_empty()
            || name.starts_with("RSIO_")
            || name.starts_with("_SISCI")
            || value.starts_with("_SISCI_EXPANDE_FUNCTION_NAME")
        {
            continue;
        }
        names.insert(name);
    }
    let mut rest = text.as_str();
    while let Some(i) = rest.find("enum {") {
        let body = &rest[i + 6..];
        let end = body.find('}').unwrap();
        for item in body[..end].split(',') {
            let name = item.split('=').next().unwrap().trim();
            if !name.is_empty() {
                names.insert(name.to_string());
            }
        }
        rest = &body[end..];
    }
    names
}

/// The typedef names a header declares.
fn header_types(text: &str) -> BTreeSet<String> {
    let text = strip_comments(text);
    let ident = |s: &str| -> String {
        let s = s.split('[').next().unwrap().trim_end();
        let rev: String = s
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rev.chars().rev().collect()
    };
    let mut names = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("typedef ") {
        // The declaration: up to the `;` outside braces.
        let decl_start = &rest[i..];
        let mut depth = 0i32;
        let mut end = decl_start.len();
        for (k, ch) in decl_start.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ';' if depth == 0 => {
                    end = k;
                    break;
                }
                _ => {}
            }
        }
        let decl = &decl_start[..end];
        let name = if let Some(p) = decl.find("(*") {
            decl[p + 2..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        } else if let Some(j) = decl.rfind('}') {
            ident(&decl[j + 1..])
        } else {
            ident(decl)
        };
        names.insert(name);
        rest = &decl_start[end..];
    }
    names
}

/// A C++ program: the headers compile as C++ and link.
const CXX_PROGRAM: &str = r#"
#include <sisci_api.h>
#include <dis_types.h>
#include <cstdio>
int main()
{
    sci_error_t e = SCI_ERR_OK;
    sci_local_segment_t seg = NULL;
    dis_nodeId_list_t nodes;
    dis_virt_adapter_t kind;
    SCIInitialize(NO_FLAGS, &e);
    SCICreateSegment(NULL, &seg, 1, 4096, NO_CALLBACK, NO_ARG, NO_FLAGS, &e);
    if (e != SCI_ERR_ILLEGAL_PARAMETER)
        return 1;
    SCIGetNodeIdByAdapterName(NULL, &nodes, &kind, NO_FLAGS, &e);
    if (e != SCI_ERR_ILLEGAL_PARAMETER)
        return 1;
    SCITerminate();
    std::printf("C++ ok\n");
    return 0;
}
"#;

#[test]
fn compat_all_names_everything_the_headers_declare() {
    let inc = include_dir();
    let api = read(&inc.join("sisci_api.h"));
    let c = read(&root().join("sisci/examples/c/compat-all.c"));
    let declared: BTreeSet<String> = declared_functions(&api).into_iter().collect();
    assert!(declared.contains("SCIOpen") && declared.len() > 50);
    // A cruder look at the header: every `SCIName(` outside comments and
    // preprocessor lines is a declared call (the parser missed none).
    let code: String = strip_comments(&api)
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    for (i, _) in code.match_indices("SCI") {
        let name: String = code[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let next = code[i + name.len()..].trim_start().chars().next();
        let boundary =
            i == 0 || !code[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        if boundary && next == Some('(') && name[3..].starts_with(|c: char| c.is_ascii_uppercase())
        {
            assert!(
                declared.contains(&name),
                "{name} looks declared, the parser missed it"
            );
        }
    }
    // Every call links under its public name (the header renames it):
    // an object-like macro, or, for the calls that are function-like
    // macros (several parameter lists), a declaration under
    // RSIO_SISCI_LINK_NAME(call) and a macro whose every expansion calls
    // that name (tests/call-forms.c checks the expansions).
    let code = strip_comments(&api);
    for call in &declared {
        let remap = api.lines().any(|l| {
            let mut w = l.split_whitespace();
            w.next() == Some("#define")
                && w.next() == Some(call.as_str())
                && w.next() == Some(format!("_SISCI_EXPANDE_FUNCTION_NAME({call})").as_str())
        });
        let link_name = format!("RSIO_SISCI_LINK_NAME({call})");
        let function_like = code.contains(&format!("#define {call}(...)"))
            && code.contains(&format!("void ({link_name})("));
        assert!(
            remap || function_like,
            "sisci_api.h declares {call} but does not rename it: add \
             `#define {call} _SISCI_EXPANDE_FUNCTION_NAME({call})` to its \
             \"Exported names\" block"
        );
        if function_like {
            // Its dispatchers: the macros its definition names, each of
            // which expands to a call of the linked name.
            let def = code.find(&format!("#define {call}(...)")).unwrap();
            let body: String = code[def..]
                .lines()
                .scan(true, |more, l| {
                    let take = *more;
                    *more = l.trim_end().ends_with('\\');
                    take.then(|| l.to_string())
                })
                .collect::<Vec<_>>()
                .join("\n");
            let mut dispatchers: BTreeSet<&str> = BTreeSet::new();
            for word in body.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("RSIO_SISCI_MAP_") {
                    dispatchers.insert(word);
                }
            }
            assert!(dispatchers.len() >= 2, "{call}: {body}");
            for d in dispatchers {
                let start = code
                    .find(&format!("#define {d}"))
                    .unwrap_or_else(|| panic!("{call}: no #define {d}"));
                let end = code[start..]
                    .find(")\n")
                    .map_or(code.len(), |e| start + e + 1);
                let def = &code[start..end];
                assert!(
                    def.contains(&link_name),
                    "{d} (a parameter list of {call}) does not call {link_name}: {def}"
                );
            }
        }
    }
    let calls = x_list(&c, "CALLS");
    assert_eq!(
        calls.symmetric_difference(&declared).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "compat-all.c's CALLS and the calls sisci_api.h declares differ"
    );

    let mut constants = BTreeSet::new();
    let mut types = BTreeSet::new();
    let mut errors = BTreeSet::new();
    for h in ["sisci_api.h", "sisci_types.h", "dis/dis_types.h"] {
        let t = read(&inc.join(h));
        constants.extend(header_constants(&t));
        types.extend(header_types(&t));
    }
    let err = read(&inc.join("sisci_error.h"));
    for n in header_constants(&err) {
        if n.starts_with("SCI_ERR_") && !n.ends_with("_MASK") {
            errors.insert(n);
        } else {
            constants.insert(n);
        }
    }
    types.extend(header_types(&err));
    let listed = x_list(&c, "CONSTANTS");
    let missing: Vec<_> = constants.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "compat-all.c's CONSTANTS lacks {missing:?}"
    );
    let listed = x_list(&c, "ERRORS");
    let missing: Vec<_> = errors.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "compat-all.c's ERRORS lacks {missing:?}"
    );
    assert!(types.contains("sci_desc_t") && types.contains("dis_nodeId_list_t"));
    assert!(types.contains("sci_cb_dma_t"), "{types:?}");
    let listed = x_list(&c, "TYPES");
    let missing: Vec<_> = types.difference(&listed).collect();
    assert!(missing.is_empty(), "compat-all.c's TYPES lacks {missing:?}");
}

/// The symbols `nm <args> <file>` lists as defined text.
fn defined_text(args: &[&str], file: &Path) -> BTreeSet<String> {
    let out = run(Command::new("nm").args(args).arg(file));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().rev();
            let name = f.next()?;
            let kind = f.next()?;
            (kind == "T").then(|| name.to_string())
        })
        .collect()
}

#[test]
fn every_call_is_exported_under_its_three_names() {
    let Some((so, a)) = libraries() else { return };
    if !have("nm", "--version") {
        eprintln!("no nm: skipped");
        return;
    }
    let declared = declared_functions(&read(&include_dir().join("sisci_api.h")));
    let dynamic = defined_text(&["-D", "--defined-only"], &so);
    let stat = defined_text(&["--defined-only"], &a);
    let mut missing = Vec::new();
    for call in &declared {
        for name in [
            call.clone(),
            format!("_SISCI_PUBLIC_FUNC_ST_{call}"),
            format!("_SISCI_PUBLIC_FUNC_MT_{call}"),
        ] {
            if !dynamic.contains(&name) {
                missing.push(format!("libsisci.so: {name}"));
            }
            if !stat.contains(&name) {
                missing.push(format!("libsisci.a: {name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "declared calls not exported (a call without an implementation?): {missing:#?}"
    );
}

#[test]
fn the_shared_library_is_named_libsisci_so() {
    let Some((so, _)) = libraries() else { return };
    if !have("readelf", "--version") {
        eprintln!("no readelf: skipped");
        return;
    }
    // Programs linked by the library's path (CMake's imported targets)
    // record its SONAME: without one, the build machine's path.
    let out = run(Command::new("readelf").arg("-d").arg(&so));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("(SONAME)") && l.contains("[libsisci.so]")),
        "libsisci.so has no SONAME libsisci.so:\n{text}"
    );
}

#[test]
fn compat_all_builds_and_runs_against_the_install_layout() {
    let Some(_) = libraries() else { return };
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    for (tool, arg) in [
        (cc.as_str(), "--version"),
        ("make", "--version"),
        ("nm", "--version"),
    ] {
        if !have(tool, arg) {
            eprintln!("no {tool}: skipped");
            return;
        }
    }
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sisci-compat");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let prefix = tmp.join("DIS");

    // The install target of the root Makefile, from the libraries built.
    run(Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(root())
        .arg("install")
        .arg(format!("PREFIX={}", prefix.display()))
        .arg("SISCI_BUILD=0")
        .arg(format!("SISCI_LIBDIR={}", target_dir().display())));
    for f in [
        "include/sisci_api.h",
        "include/sisci_types.h",
        "include/sisci_error.h",
        "include/dis/dis_types.h",
        "lib64/libsisci.so",
        "lib64/libsisci.a",
        "lib64/pkgconfig/sisci.pc",
        "lib/libsisci.so",
    ] {
        assert!(prefix.join(f).is_file(), "make install left out {f}");
    }
    let pc = read(&prefix.join("lib64/pkgconfig/sisci.pc"));
    assert!(pc.contains(&format!("prefix={}", prefix.display())), "{pc}");
    assert!(pc.contains("libdir=${exec_prefix}/lib64"), "{pc}");
    assert!(pc.contains("-I${includedir} -I${includedir}/dis"), "{pc}");

    let src = root().join("sisci/examples/c/compat-all.c");
    let lib64 = prefix.join("lib64");
    let flags = ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror"];
    let cc_cmd = |out: &Path, extra: &[&str]| {
        let mut c = Command::new(&cc);
        c.args(flags)
            .args(extra)
            .arg(format!("-I{}", prefix.join("include").display()))
            .arg(format!("-I{}", prefix.join("include/dis").display()))
            .arg("-o")
            .arg(out)
            .arg(&src);
        c
    };
    let st = tmp.join("compat-st");
    let mt = tmp.join("compat-mt");
    let stat = tmp.join("compat-static");
    for (bin, extra) in [(&st, &[][..]), (&mt, &["-D_REENTRANT"][..])] {
        run(cc_cmd(bin, extra)
            .arg(format!("-L{}", lib64.display()))
            .args(["-lsisci", "-ldl"]));
    }
    run(cc_cmd(&stat, &[]).arg(lib64.join("libsisci.a")).args([
        "-lpthread",
        "-ldl",
        "-lm",
        "-lrt",
        "-lgcc_s",
        "-lutil",
    ]));

    // The binaries reference the names the public header would make them.
    let undefined = |bin: &Path| {
        String::from_utf8_lossy(&run(Command::new("nm").arg("-u").arg(bin)).stdout).to_string()
    };
    let (u_st, u_mt) = (undefined(&st), undefined(&mt));
    assert!(u_st.contains("_SISCI_PUBLIC_FUNC_ST_SCIOpen"), "{u_st}");
    assert!(!u_st.contains("_SISCI_PUBLIC_FUNC_MT_"), "{u_st}");
    assert!(
        u_mt.contains("_SISCI_PUBLIC_FUNC_MT_SCICacheSync"),
        "{u_mt}"
    );
    assert!(!u_mt.contains("_SISCI_PUBLIC_FUNC_ST_"), "{u_mt}");
    // The calls that are function-like macros too, in every form.
    for call in [
        "SCIMapLocalSegmentForDevice",
        "SCIMapRemoteSegmentForDevice",
    ] {
        assert!(
            u_st.contains(&format!("_SISCI_PUBLIC_FUNC_ST_{call}")),
            "{u_st}"
        );
        assert!(
            u_mt.contains(&format!("_SISCI_PUBLIC_FUNC_MT_{call}")),
            "{u_mt}"
        );
    }

    // Host runs: no rsio_sisci (SCIOpen fails cleanly), and a fake device
    // (calls past their checks reach it). RSIO_DEVICE keeps a host's own
    // /dev/rsio out of it.
    let go = |bin: &Path, device: &str, args: &[&str]| {
        let out = Command::new(bin)
            .args(args)
            .env("LD_LIBRARY_PATH", &lib64)
            .env("SISCI_DEVICE", device)
            .env("RSIO_DEVICE", "/nonexistent/rsio")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{} {args:?} (SISCI_DEVICE={device}) failed:\n{text}{}",
            bin.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!text.contains("FAIL"), "{text}");
        text
    };
    for bin in [&st, &mt, &stat] {
        go(bin, "/nonexistent/sisci", &[]);
        go(bin, "/dev/null", &["--fake-device"]);
    }
    let text = go(&st, "/nonexistent/sisci", &[]);
    assert!(
        text.contains("PASS dlsym finds every call under its three names"),
        "{text}"
    );
    assert!(text.contains("PASS SCIOpen without /dev/sisci"), "{text}");

    // C++ programs: the headers' extern "C" and the NO_* constants.
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    if have(&cxx, "--version") {
        let src = tmp.join("cxx.cc");
        std::fs::write(&src, CXX_PROGRAM).unwrap();
        let bin = tmp.join("cxx");
        run(Command::new(&cxx)
            .args(["-std=c++11", "-Wall", "-Wextra", "-Werror"])
            .arg(format!("-I{}", prefix.join("include").display()))
            .arg(format!("-I{}", prefix.join("include/dis").display()))
            .arg("-o")
            .arg(&bin)
            .arg(&src)
            .arg(format!("-L{}", lib64.display()))
            .arg("-lsisci"));
        let out = go(&bin, "/nonexistent/sisci", &[]);
        assert!(out.contains("C++ ok"), "{out}");
    } else {
        eprintln!("no C++ compiler ({cxx}): its part skipped");
    }

    // pkg-config finds the same layout.
    if have("pkg-config", "--version") {
        let out = run(Command::new("pkg-config")
            .args(["--cflags", "--libs", "sisci"])
            .env("PKG_CONFIG_PATH", prefix.join("lib64/pkgconfig")));
        let pkg = String::from_utf8_lossy(&out.stdout).to_string();
        let bin = tmp.join("compat-pkg");
        let mut c = Command::new(&cc);
        c.args(flags).arg("-o").arg(&bin).arg(&src);
        c.args(pkg.split_whitespace()).arg("-ldl");
        run(&mut c);
        go(&bin, "/nonexistent/sisci", &[]);
    } else {
        eprintln!("no pkg-config: its part skipped");
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Builds and runs `tests/call-forms.c` with `compiler` as `std`, with and
/// without `RSIO_SISCI_PLAIN_NAMES` and `_REENTRANT`: it must build with
/// `-Wall -Wextra -Werror -pedantic`, report `variadic` for the variadic
/// macros, and pass.
fn call_forms(compiler: &str, lang: &str, std: &str, variadic: bool, tmp: &Path) -> usize {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/call-forms.c");
    let mut passed = 0;
    let variants = [
        &[][..],
        &["-D_REENTRANT"][..],
        &["-DRSIO_SISCI_PLAIN_NAMES"][..],
    ];
    for (i, defines) in variants.iter().enumerate() {
        let bin = tmp.join(format!("call-forms-{}-{std}-{i}", lang.replace('+', "x")));
        run(Command::new(compiler)
            .args(["-x", lang])
            .arg(format!("-std={std}"))
            .args(["-pedantic", "-Wall", "-Wextra", "-Werror"])
            .args(*defines)
            .arg(format!("-I{}", include_dir().display()))
            .arg(format!("-I{}", include_dir().join("dis").display()))
            .arg("-o")
            .arg(&bin)
            .arg(&src));
        let out = Command::new(&bin).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success() && !text.contains("FAIL"),
            "call-forms ({compiler} -std={std} {defines:?}):\n{text}"
        );
        let want = format!("INFO variadic forms: {}", u8::from(variadic));
        assert!(text.contains(&want), "{compiler} -std={std}: {text}");
        if variadic {
            assert!(
                text.contains(
                    "PASS local (segment, adapter, device, &ioaddr, offset, flags, &err)"
                ) && text.contains("PASS remote (segment, device, &ioaddr, offset, flags, &err)"),
                "{text}"
            );
        }
        passed += text.lines().filter(|l| l.starts_with("PASS ")).count();
    }
    passed
}

#[test]
fn the_parameter_lists_of_older_releases_become_the_right_calls() {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    if !have(&cc, "--version") {
        eprintln!("no {cc}: skipped");
        return;
    }
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sisci-call-forms");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let mut passed = 0;
    for (std, variadic) in [
        ("c89", false),
        ("gnu89", false),
        ("c99", true),
        ("c11", true),
        ("gnu11", true),
        ("c17", true),
    ] {
        passed += call_forms(&cc, "c", std, variadic, &tmp);
    }
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    if have(&cxx, "--version") {
        for (std, variadic) in [
            ("c++98", false),
            ("c++11", true),
            ("c++17", true),
            ("c++20", true),
        ] {
            passed += call_forms(&cxx, "c++", std, variadic, &tmp);
        }
    } else {
        eprintln!("no C++ compiler ({cxx}): its part skipped");
    }
    assert!(passed > 100, "{passed} checks passed");

    // A parameter list no release has does not build: the compiler names
    // the call.
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/call-forms.c");
    let out = Command::new(&cc)
        .args(["-std=c11", "-DWRONG_COUNT", "-Werror"])
        .arg(format!("-I{}", include_dir().display()))
        .arg("-o")
        .arg(tmp.join("call-forms-wrong"))
        .arg(&src)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a call with 5 arguments built");
    assert!(err.contains("SCIMapLocalSegmentForDevice"), "{err}");
    let _ = std::fs::remove_dir_all(&tmp);
}
