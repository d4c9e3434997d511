//! Every exported `extern "C"` function of `src/ffi/` runs its whole body inside the one
//! panic guard (`guard(|| …)`), is `#[no_mangle]`, and is declared in the header; and
//! nothing outside `src/ffi/` is `extern "C"`.

use std::path::Path;

/// (file, function name, text of the body after its opening brace) for each exported fn.
fn exported_functions() -> Vec<(String, String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ffi");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("src/ffi") {
        let path = entry.expect("entry").path();
        if !matches!(path.extension(), Some(e) if e == "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("extern \"C\" fn ") {
            let after = &rest[at + "extern \"C\" fn ".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // A named `extern "C" fn` is a definition (callback types have no name).
            if !name.is_empty() {
                let before = &rest[..at];
                let attrs = before.rsplit("\n\n").next().unwrap_or("");
                assert!(
                    attrs.contains("#[no_mangle]"),
                    "{file}: {name} is extern \"C\" but not #[no_mangle]"
                );
                // The body starts after the ` {` that ends the signature's last line.
                let body_start = after.find(" {\n").expect("body") + " {\n".len();
                found.push((
                    file.clone(),
                    name,
                    after[body_start..].trim_start().to_string(),
                ));
            }
            rest = after;
        }
    }
    found
}

/// True when `body` (the text after a function's opening brace) is exactly one call
/// `guard(|| …)` and then the function's closing brace: nothing runs outside the guard.
fn is_guarded(body: &str) -> bool {
    let Some(rest) = body
        .strip_prefix("guard(||")
        .or_else(|| body.strip_prefix("guard(move ||"))
    else {
        return false;
    };
    // Find the `)` that closes `guard(`, skipping string and char literals.
    let bytes = rest.as_bytes();
    let (mut depth, mut i) = (1usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'\'' if bytes.get(i + 2) == Some(&b'\'') => i += 2,
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return rest[i + 1..].trim_start().starts_with('}');
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

#[test]
fn the_guard_check_itself_catches_unguarded_bodies() {
    assert!(is_guarded("guard(|| Ok(f(\")\")))\n}\n"));
    assert!(is_guarded(
        "guard(|| {\n    let x = ')';\n    ok()\n})\n}\n"
    ));
    assert!(!is_guarded("let p = g();\n    guard(|| ok())\n}\n"));
    assert!(!is_guarded("guard(|| ok());\n    after();\n}\n"));
    assert!(!is_guarded("unsafe { f() }\n}\n"));
}

#[test]
fn every_exported_function_runs_entirely_inside_the_panic_guard() {
    let functions = exported_functions();
    assert!(
        functions.len() > 50,
        "found only {} functions",
        functions.len()
    );
    let unguarded: Vec<String> = functions
        .iter()
        .filter(|(_, _, body)| !is_guarded(body))
        .map(|(file, name, _)| format!("{file}: {name}"))
        .collect();
    assert!(
        unguarded.is_empty(),
        "exported functions whose body is not exactly `guard(|| …)`: {unguarded:?}"
    );
}

#[test]
fn every_exported_function_is_in_the_header() {
    let header = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/flowai.h"))
        .expect("header");
    for (file, name, _) in exported_functions() {
        assert!(
            name.starts_with("flowai_"),
            "{file}: {name} lacks the flowai_ prefix"
        );
        assert!(
            header.contains(&format!(" {name}(")) || header.contains(&format!("*{name}(")),
            "{file}: {name} is missing from include/flowai.h"
        );
    }
}

#[test]
fn no_extern_c_outside_src_ffi() {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                if !path.ends_with("ffi") {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read");
                if text.contains("extern \"C\" fn ") || text.contains("#[no_mangle]") {
                    out.push(path.display().to_string());
                }
            }
        }
    }
    let mut offenders = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut offenders,
    );
    assert!(
        offenders.is_empty(),
        "extern \"C\" outside src/ffi: {offenders:?}"
    );
}
