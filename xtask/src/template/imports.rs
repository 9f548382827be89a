//! The template's `use` lines are one pool: each rendered file gets the imports its code uses,
//! merged per path (`use nix::unistd::{chdir, fork};`), so no file imports what it does not use
//! and a level's new imports are exactly what its guide asks for.
//!
//! A name counts as used when it appears in the file's code outside comments and string
//! literals, or, for a trait, when its methods' snake_case form does (`AsRawFd` for
//! `as_raw_fd`). Glob imports (`kit::prelude::*`) go everywhere.

use std::collections::{BTreeMap, BTreeSet};

use super::Rendered;

/// The module `main.rs` declares for what earlier levels wrote.
pub const EARLIER: &str = "earlier";

/// Takes the `use` statements out of `main` and gives each file those it uses. `main.rs` then
/// declares `mod earlier;` and imports everything from it when `earlier` is not empty; the items
/// of `earlier.rs` become `pub` so that it can.
pub fn distribute(main: &str, earlier: &str) -> Rendered {
    let (pool, main_code) = take_uses(main);
    let earlier = if earlier.trim().is_empty() {
        String::new()
    } else {
        let code = make_public(earlier);
        format!("{}\n{code}", imports_for(&pool, &code))
    };
    let mut imports = imports_for(&pool, &main_code);
    if !earlier.is_empty() {
        imports = format!("mod {EARLIER};\n\nuse {EARLIER}::*;\n{imports}");
    }
    Rendered {
        main: insert_after_docs(&main_code, &imports),
        earlier,
    }
}

/// The `use` statements of `code` as (path, name) pairs, and the code without them.
fn take_uses(code: &str) -> (Vec<(String, String)>, String) {
    let mut pool = Vec::new();
    let mut rest = Vec::new();
    let mut statement = String::new();
    for line in code.lines() {
        if statement.is_empty() && !line.starts_with("use ") {
            rest.push(line);
            continue;
        }
        statement.push_str(line.trim());
        if line.trim_end().ends_with(';') {
            pool.extend(expand(&statement));
            statement.clear();
        }
    }
    (pool, collapse_blank_lines(&rest))
}

/// `use a::b::{c, d};` as `(a::b, c)` and `(a::b, d)`.
fn expand(statement: &str) -> Vec<(String, String)> {
    let body: String = statement
        .trim_start_matches("use ")
        .trim_end_matches(';')
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let (prefix, names) = match body.split_once("::{") {
        Some((prefix, names)) => (prefix.to_string(), names.trim_end_matches('}').to_string()),
        None => match body.rsplit_once("::") {
            Some((prefix, name)) => (prefix.to_string(), name.to_string()),
            None => (String::new(), body),
        },
    };
    names
        .split(',')
        .filter(|name| !name.is_empty())
        .map(|name| (prefix.clone(), name.to_string()))
        .collect()
}

/// The imports of `pool` that `code` uses, one `use` line per path, then a blank line.
fn imports_for(pool: &[(String, String)], code: &str) -> String {
    let used = identifiers(code);
    let mut by_path: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (path, name) in pool {
        if name == "*" || used.contains(name) || used.contains(&snake_case(name)) {
            by_path.entry(path).or_default().insert(name);
        }
    }
    let mut text = String::new();
    for (path, names) in by_path {
        let names: Vec<&str> = names.into_iter().collect();
        match names.as_slice() {
            [one] => text.push_str(&format!("use {path}::{one};\n")),
            many => text.push_str(&format!("use {path}::{{{}}};\n", many.join(", "))),
        }
    }
    text
}

/// The identifiers of `code`, outside comments, string literals and character literals.
fn identifiers(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in code.lines() {
        let mut word = String::new();
        let mut chars = line.chars().peekable();
        let mut in_string = false;
        while let Some(c) = chars.next() {
            if in_string {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            if c == '/' && chars.peek() == Some(&'/') {
                break;
            }
            if c.is_alphanumeric() || c == '_' {
                word.push(c);
                continue;
            }
            found.insert(std::mem::take(&mut word));
            in_string = c == '"';
        }
        found.insert(word);
    }
    found
}

/// `AsRawFd` as `as_raw_fd`: the method a trait import is there for.
fn snake_case(name: &str) -> String {
    let mut snake = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.extend(c.to_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake
}

/// Top-level `fn` and `const` items made `pub`, for `main.rs` to import.
fn make_public(code: &str) -> String {
    let mut text = String::new();
    for line in code.lines() {
        if line.starts_with("fn ") || line.starts_with("const ") {
            text.push_str("pub ");
        }
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// `imports` after the file's leading `//!` doc (and the blank line after it), before the rest.
fn insert_after_docs(code: &str, imports: &str) -> String {
    let lines: Vec<&str> = code.lines().collect();
    let docs = lines.iter().take_while(|l| l.starts_with("//!")).count();
    let (head, tail) = lines.split_at(docs);
    let tail: Vec<&str> = tail
        .iter()
        .copied()
        .skip_while(|l| l.trim().is_empty())
        .collect();
    let mut text = String::new();
    for line in head {
        text.push_str(line);
        text.push('\n');
    }
    if !head.is_empty() {
        text.push('\n');
    }
    text.push_str(imports);
    if !imports.is_empty() {
        text.push('\n');
    }
    for line in tail {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// Lines joined, with no two blank lines in a row and none at the start.
fn collapse_blank_lines(lines: &[&str]) -> String {
    let mut text = String::new();
    let mut previous_blank = true;
    for line in lines {
        let blank = line.trim().is_empty();
        if !(blank && previous_blank) {
            text.push_str(line);
            text.push('\n');
        }
        previous_blank = blank;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_file_gets_the_imports_it_uses_merged_per_path() {
        let main = "//! Level 1.\n\nuse kit::prelude::*;\nuse nix::unistd::{chdir, fork};\n\
                    use nix::unistd::chroot;\nuse std::os::fd::AsRawFd;\n\nfn main() {\n    \
                    fork(); // chroot\n    let s = \"chdir\";\n}\n";
        let earlier = "\nfn helper() {\n    chroot();\n    chdir();\n    x.as_raw_fd();\n}\n";
        let rendered = distribute(main, earlier);
        assert_eq!(
            rendered.main,
            "//! Level 1.\n\nmod earlier;\n\nuse earlier::*;\nuse kit::prelude::*;\n\
             use nix::unistd::fork;\n\nfn main() {\n    fork(); // chroot\n    \
             let s = \"chdir\";\n}\n"
        );
        assert_eq!(
            rendered.earlier,
            "use kit::prelude::*;\nuse nix::unistd::{chdir, chroot};\nuse std::os::fd::AsRawFd;\n\
             \n\npub fn helper() {\n    chroot();\n    chdir();\n    x.as_raw_fd();\n}\n"
        );
    }

    #[test]
    fn without_earlier_code_main_declares_no_module() {
        let rendered = distribute("use a::b;\n\nfn main() {\n    b();\n}\n", "");
        assert_eq!(rendered.main, "use a::b;\n\nfn main() {\n    b();\n}\n");
        assert_eq!(rendered.earlier, "");
    }

    #[test]
    fn a_trait_is_used_through_its_method() {
        assert_eq!(snake_case("AsRawFd"), "as_raw_fd");
        assert_eq!(snake_case("Path"), "path");
    }
}
