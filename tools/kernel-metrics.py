#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The shape of rsio's kernel code, as issue 18 measures it.

Prints, for the kernel modules (everything built by the root Kbuild):
  - `unsafe` blocks outside the abstraction layer (rust/), per file;
  - lines of C outside the layer;
  - functions longer than 80 lines (body, braces included);
  - import cycles between the files of a crate (`use crate::a` in b.rs ...);
  - `unsafe` blocks whose `// SAFETY:` comment is not on the line above.

With --check, exits 1 if a limit is exceeded (the limits below), so that
`make test` can hold them. Run from anywhere: paths are the repository's.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYER = "rust"
# Kernel crates: name -> (crate root, directory of its modules).
CRATES = {
    "rsio_kernel": "rust/rsio_kernel.rs",
    "rsio_ntb": "ntb/ntb_hw.rs",
    "rsio_fabric": "drivers/fabric/fabric.rs",
    "rsio_sisci": "sisci/sisci.rs",
    "rsio_lend": "lending/lend.rs",
    "rsio_nvme_share": "nvme_share/nvme_share.rs",
}
MODULE_DIRS = ["rust", "ntb", "drivers/fabric", "sisci", "lending", "nvme_share", "tests/kmod"]
# Test modules: counted apart from the feature modules.
TEST_DIRS = ("tests/kmod/",)
# Limits for --check.
MAX_UNSAFE_OUTSIDE = 5
MAX_FN_LINES = 80


def kernel_files(exts):
    out = []
    for d in MODULE_DIRS:
        base = os.path.join(ROOT, d)
        for dirpath, dirs, files in os.walk(base):
            rel = os.path.relpath(dirpath, ROOT)
            # user-space parts living next to kernel code
            if rel.startswith(("drivers/fabric/logic", "nvme_share/logic", "sisci/lib", "sisci/capi",
                               "sisci/examples", "sisci/include")):
                dirs[:] = []
                continue
            for f in files:
                if f.endswith(exts) and "_generated" not in f:
                    out.append(os.path.join(rel, f))
    return sorted(out)


def strip_code(text):
    """Text with comments and string/char literal contents blanked, line
    structure kept."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"' or (c == "r" and re.match(r'r#*"', text[i:i + 8]) and
                          (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))):
            m = re.match(r'r(#*)"', text[i:i + 8])
            if m:
                end = '"' + m.group(1)
                j = text.find(end, i + len(m.group(0)))
                j = n if j < 0 else j + len(end)
            else:
                j = i + 1
                while j < n and text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4] + "  "):
            m = re.match(r"'(\\[^']*|[^\\'])'", text[i:i + 12])
            j = i + (len(m.group(0)) if m else 1)
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def unsafe_blocks(path):
    code = strip_code(open(os.path.join(ROOT, path)).read())
    return len(re.findall(r"\bunsafe\s*\{", code))


def undocumented_unsafe(path):
    """Line numbers of `unsafe` blocks whose line above is not their
    `// SAFETY:` comment (clippy accepts a comment further up; the project
    wants it next to the block)."""
    raw = open(os.path.join(ROOT, path)).read().split("\n")
    code = strip_code("\n".join(raw)).split("\n")
    return [i + 1 for i, line in enumerate(code)
            if re.search(r"\bunsafe\s*\{", line) and (i == 0 or "SAFETY" not in raw[i - 1])]


def long_functions(path):
    code = strip_code(open(os.path.join(ROOT, path)).read())
    lines = code.split("\n")
    res = []
    for m in re.finditer(r"\bfn\s+(\w+)", code):
        # find the body's opening brace (skip a `;` first: a declaration)
        i = m.end()
        depth = 0
        while i < len(code) and code[i] not in "{;":
            i += 1
        if i >= len(code) or code[i] == ";":
            continue
        start = code.count("\n", 0, i)
        j = i
        while j < len(code):
            if code[j] == "{":
                depth += 1
            elif code[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        end = code.count("\n", 0, j)
        if end - start + 1 > MAX_FN_LINES:
            res.append((m.group(1), start + 1, end - start + 1))
    return res


def crate_modules(root):
    """Module name -> file, for the files a crate root declares (one
    level of `mod x;` per file, recursively)."""
    mods = {}

    def walk(path, prefix):
        text = strip_code(open(os.path.join(ROOT, path)).read())
        d = os.path.dirname(path)
        stem = os.path.splitext(os.path.basename(path))[0]
        is_root = path == root or stem == "mod"
        for m in re.finditer(r"^\s*(?:#\[path\s*=\s*\"([^\"]*)\"\]\s*)?(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;",
                             text, re.M):
            name = m.group(2)
            if m.group(1):
                continue  # shared ABI sources (#[path]): not kernel structure
            sub = os.path.join(d if is_root else os.path.join(d, stem), name)
            f = sub + ".rs" if os.path.exists(os.path.join(ROOT, sub + ".rs")) else os.path.join(sub, "mod.rs")
            if not os.path.exists(os.path.join(ROOT, f)):
                continue
            key = prefix + name
            mods[key] = f
            walk(f, key + "::")

    walk(root, "")
    return mods


def import_cycles():
    cycles = []
    for crate, root in CRATES.items():
        if not os.path.exists(os.path.join(ROOT, root)):
            continue
        mods = crate_modules(root)
        tops = {k for k in mods if "::" not in k}
        graph = {}
        for key, f in mods.items():
            top = key.split("::")[0]
            code = strip_code(open(os.path.join(ROOT, f)).read())
            deps = set()
            for m in re.finditer(r"\bcrate::(\w+)", code):
                deps.add(m.group(1))
            for m in re.finditer(r"\buse\s+crate::\{([^;]*)\}", code, re.S):
                deps.update(use_tree_heads(m.group(1)))
            # In a file of the crate root's modules, `super::` is `crate::`
            # (deeper down, `super::x` is a sibling of the same top module).
            if "::" not in key:
                for m in re.finditer(r"\bsuper::(\w+)", code):
                    deps.add(m.group(1))
                for m in re.finditer(r"\buse\s+super::\{([^;]*)\}", code, re.S):
                    deps.update(use_tree_heads(m.group(1)))
            graph.setdefault(top, set()).update(d for d in deps if d in tops and d != top)
        cycles += [(crate, c) for c in sccs(graph) if len(c) > 1]
    return cycles


def use_tree_heads(tree):
    """The first path segments of a `use` tree's braces' content: `a` and
    `c` of `a::{x, y}, c`, not the names nested deeper (`x`, `y`)."""
    heads, depth, expect = [], 0, True
    for tok in re.findall(r"\w+|::|[{},]", tree):
        if tok == "{":
            depth += 1
        elif tok == "}":
            depth -= 1
        elif tok == ",":
            expect = depth == 0
        elif tok != "::" and expect and depth == 0:
            heads.append(tok)
            expect = False
    return heads


def sccs(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            strong(v)
    return out


def main():
    check = "--check" in sys.argv
    rs = kernel_files((".rs",))
    cs = kernel_files((".c", ".h"))
    layer = [f for f in rs if f.startswith(LAYER + "/")]
    features = [f for f in rs if f not in layer and not f.startswith(TEST_DIRS)]
    tests = [f for f in rs if f.startswith(TEST_DIRS)]
    outside = [(f, n) for f in features for n in [unsafe_blocks(f)] if n]
    n_unsafe = sum(n for _, n in outside)
    n_tests = sum(unsafe_blocks(f) for f in tests)
    c_outside = [(f, sum(1 for _ in open(os.path.join(ROOT, f)))) for f in cs
                 if not f.startswith(LAYER + "/")]
    n_c = sum(n for _, n in c_outside)
    longs = [(f, fn, line, n) for f in rs for fn, line, n in long_functions(f)]
    cycles = import_cycles()
    bare = [(f, n) for f in rs for n in undocumented_unsafe(f)]
    layer_unsafe = sum(unsafe_blocks(f) for f in layer)

    print(f"unsafe blocks in the feature modules outside {LAYER}/: {n_unsafe} "
          f"(limit {MAX_UNSAFE_OUTSIDE}); {layer_unsafe} in {LAYER}/, {n_tests} in the test modules")
    for f, n in outside:
        print(f"  {f}: {n}")
    print(f"lines of C outside {LAYER}/: {n_c} (limit 0)")
    for f, n in c_outside:
        print(f"  {f}: {n}")
    print(f"unsafe blocks without their SAFETY comment on the line above: {len(bare)}")
    for f, n in bare:
        print(f"  {f}:{n}")
    print(f"functions over {MAX_FN_LINES} lines: {len(longs)}")
    for f, fn, line, n in longs:
        print(f"  {f}:{line}: {fn} ({n} lines)")
    print(f"import cycles between the files of a crate: {len(cycles)}")
    for crate, c in cycles:
        print(f"  {crate}: {' <-> '.join(c)}")
    over = n_unsafe > MAX_UNSAFE_OUTSIDE or n_c > 0 or bare or longs or cycles
    if check and over:
        print("kernel-metrics: limits exceeded", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
