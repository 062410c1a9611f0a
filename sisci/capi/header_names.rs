// SPDX-License-Identifier: GPL-2.0

// The calls a SISCI header declares: shared by build.rs (the exported
// aliases) and tests/compat.rs (every call exported, every call in
// compat-all.c), each of which `include!`s this file.

/// `text` without its C comments.
fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        match rest[i + 2..].find("*/") {
            Some(j) => rest = &rest[i + 2 + j + 2..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// The names of the functions `header` declares: every top-level statement
/// (comments and preprocessor lines removed) that is not a typedef and has
/// the form `<type> NAME(<parameters>);`, or, for a call that is also a
/// function-like macro, `<type> (NAME)(<parameters>);` or
/// `<type> (RSIO_SISCI_LINK_NAME(NAME))(<parameters>);` (the parentheses
/// keep the macro from expanding).
fn declared_functions(header: &str) -> Vec<String> {
    let text = strip_comments(header);
    // Drop preprocessor lines (with their continuations).
    let mut code = String::new();
    let mut continued = false;
    for line in text.lines() {
        let is_pp = continued || line.trim_start().starts_with('#');
        continued = is_pp && line.trim_end().ends_with('\\');
        if !is_pp {
            code.push_str(line);
            code.push('\n');
        }
    }
    let mut names = Vec::new();
    for stmt in code.split([';', '{', '}']) {
        let stmt = stmt.trim();
        if stmt.is_empty() || stmt.starts_with("typedef") || stmt.starts_with("extern \"C\"") {
            continue;
        }
        // The parameter list: the parenthesized group that ends the
        // statement; the declarator is what precedes it, without the
        // parentheses around the name.
        if !stmt.ends_with(')') {
            continue;
        }
        let mut depth = 0usize;
        let mut open = None;
        for (i, c) in stmt.char_indices().rev() {
            match c {
                ')' => depth += 1,
                '(' => {
                    depth -= 1;
                    if depth == 0 {
                        open = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(open) = open else { continue };
        let before = stmt[..open].trim_end_matches(|c: char| c == ')' || c.is_whitespace());
        let name: String = before
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        // A declaration has a type before the name (a call or macro use
        // at top level would not).
        let ty = before[..before.len() - name.len()].trim();
        if name.starts_with("SCI") && !ty.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}
