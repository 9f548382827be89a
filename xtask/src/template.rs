//! The level template: one annotated Rust file that renders as the skeleton or the solution of
//! any level of the ladder.
//!
//! Directives are whole lines whose trimmed text starts with `//@`; they are never emitted.
//!
//! ```text
//! //@ level N     code the attendee writes at level N; until `//@ else` or `//@ end`
//! //@ todo K: ..  (inside a `level N` block) starts step K of level N's TODO text
//! //@ todo ..     (inside a `level N` block) continues the step above
//! //@ from N      code given from level N on, in skeletons and solutions alike
//! //@ else        (in a `level N` or `from N` block) what stands there before level N
//! //@ only N      lines emitted only when rendering level N, skeleton and solution
//! //@ end         closes the innermost block
//! ```
//!
//! Rendering level T as a solution, a `level N` block emits its code when N <= T, otherwise its
//! else-part. As a skeleton, it emits its code when N < T, its TODO lines followed by its
//! else-part when N == T, and its else-part when N > T. So the skeleton of level T is the
//! solution of level T-1 plus level T's TODOs (plus any `only T` lines).
//!
//! A todo line `//@ todo K: text` becomes `// TODO(level N) step K: text`, and a continuation
//! `//@ todo text` becomes `//     text` (up to four spaces after `todo` are alignment; deeper
//! indentation is kept), each at the indentation of its directive line. In the skeleton the TODO
//! lines stand where their code starts: a blank line next to a group of todo lines goes before
//! the group.
//!
//! Where blocks were removed, blank lines collapse to one, and to none at the start or end of the
//! file or of a `{`/`(`/`[` group, so that a rustfmt-clean template renders rustfmt-clean code.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Which crate of a level to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// The attendee's crate: the previous level's solution plus this level's TODOs.
    Skeleton,
    /// The reference crate.
    Solution,
}

/// A malformed template, with the 1-based line number of the offending directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for TemplateError {}

fn error<T>(line: usize, message: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError {
        line,
        message: message.into(),
    })
}

/// A parsed and validated template.
#[derive(Debug)]
pub struct Template {
    nodes: Vec<Node>,
    todo_levels: BTreeSet<u32>,
}

#[derive(Debug)]
enum Node {
    /// A template line, emitted as is.
    Text(String),
    /// A TODO comment line, already formatted; emitted by its `level` block in the skeleton.
    Todo(String),
    Block(Block),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Level,
    From,
    Only,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Level => "level",
            Kind::From => "from",
            Kind::Only => "only",
        }
    }
}

#[derive(Debug)]
struct Block {
    kind: Kind,
    level: u32,
    /// Line of the opening directive.
    line: usize,
    /// The code, with the block's own todo lines among it.
    code: Vec<Node>,
    /// The line of `//@ else` and what follows it.
    otherwise: Option<(usize, Vec<Node>)>,
}

/// Which parts of a block a rendering emits.
struct Shown {
    code: bool,
    todos: bool,
    otherwise: bool,
}

impl Block {
    fn directive(&self) -> String {
        format!("`//@ {} {}`", self.kind.word(), self.level)
    }

    fn shown(&self, target: u32, flavor: Flavor) -> Shown {
        let n = self.level;
        match self.kind {
            Kind::Level => {
                let code = n < target || (n == target && flavor == Flavor::Solution);
                Shown {
                    code,
                    todos: n == target && flavor == Flavor::Skeleton,
                    otherwise: !code,
                }
            }
            Kind::From => Shown {
                code: n <= target,
                todos: false,
                otherwise: n > target,
            },
            Kind::Only => Shown {
                code: n == target,
                todos: false,
                otherwise: false,
            },
        }
    }

    fn has_todos(&self) -> bool {
        self.code.iter().any(|node| matches!(node, Node::Todo(_)))
    }
}

enum Directive<'a> {
    Open(Kind, u32),
    Else,
    End,
    Todo { indent: &'a str, text: &'a str },
}

/// Reads one line: `None` for an ordinary line, the directive otherwise.
fn parse_directive(raw: &str, line: usize) -> Result<Option<Directive<'_>>, TemplateError> {
    let trimmed = raw.trim_start();
    let Some(rest) = trimmed.strip_prefix("//@") else {
        return Ok(None);
    };
    let indent = &raw[..raw.len() - trimmed.len()];
    let body = rest.trim_start();
    let (word, arg) = match body.find(char::is_whitespace) {
        Some(i) => body.split_at(i),
        None => (body, ""),
    };
    let shown = trimmed.trim_end();
    let kind = match word {
        "level" => Kind::Level,
        "from" => Kind::From,
        "only" => Kind::Only,
        "else" | "end" => {
            if !arg.trim().is_empty() {
                return error(
                    line,
                    format!("`//@ {word}` takes no argument, found `{shown}`"),
                );
            }
            return Ok(Some(if word == "else" {
                Directive::Else
            } else {
                Directive::End
            }));
        }
        "todo" => return Ok(Some(Directive::Todo { indent, text: arg })),
        _ => {
            return error(
                line,
                format!(
                    "unknown directive `{shown}`: expected `//@ level N`, `//@ from N`, \
                     `//@ only N`, `//@ todo ...`, `//@ else` or `//@ end`"
                ),
            )
        }
    };
    match arg.trim().parse::<u32>() {
        Ok(n) => Ok(Some(Directive::Open(kind, n))),
        Err(_) => error(
            line,
            format!("expected `//@ {word} N` with N a level number, found `{shown}`"),
        ),
    }
}

/// A todo directive's text as a comment line, and its step number if it starts a step.
fn todo_comment(indent: &str, level: u32, text: &str) -> (Option<u32>, String) {
    let stripped = text.trim_start();
    if let Some((number, rest)) = stripped.split_once(':') {
        if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(step) = number.parse::<u32>() {
                let comment = format!(
                    "{indent}// TODO(level {level}) step {step}: {}",
                    rest.trim()
                );
                return (Some(step), comment.trim_end().to_string());
            }
        }
    }
    let mut continuation = text.trim_end();
    for _ in 0..4 {
        match continuation.strip_prefix(' ') {
            Some(rest) => continuation = rest,
            None => break,
        }
    }
    if continuation.is_empty() {
        (None, format!("{indent}//"))
    } else {
        (None, format!("{indent}//     {continuation}"))
    }
}

/// A block being read.
struct Open {
    block: Block,
    /// Whether a `//@ todo K:` line has started a step in this block.
    has_step: bool,
}

/// Where the next line goes: the innermost open block's current part, or the top level.
fn current<'a>(root: &'a mut Vec<Node>, stack: &'a mut [Open]) -> &'a mut Vec<Node> {
    match stack.last_mut() {
        Some(Open {
            block:
                Block {
                    otherwise: Some((_, nodes)),
                    ..
                },
            ..
        }) => nodes,
        Some(open) => &mut open.block.code,
        None => root,
    }
}

impl Template {
    /// Parses and validates `source`; `levels` are the level numbers of the ladder.
    pub fn parse(source: &str, levels: &[u32]) -> Result<Self, TemplateError> {
        let mut root = Vec::new();
        let mut stack: Vec<Open> = Vec::new();
        // Per level, each step number and the first line it appears on.
        let mut steps: BTreeMap<u32, BTreeMap<u32, usize>> = BTreeMap::new();

        for (index, raw) in source.lines().enumerate() {
            let line = index + 1;
            let Some(directive) = parse_directive(raw, line)? else {
                current(&mut root, &mut stack).push(Node::Text(raw.to_string()));
                continue;
            };
            match directive {
                Directive::Open(kind, level) => {
                    if !levels.contains(&level) {
                        return error(
                            line,
                            format!(
                                "level {level} is not in the ladder (kit::ladder::LADDER has {})",
                                list(levels)
                            ),
                        );
                    }
                    stack.push(Open {
                        block: Block {
                            kind,
                            level,
                            line,
                            code: Vec::new(),
                            otherwise: None,
                        },
                        has_step: false,
                    });
                }
                Directive::Else => match stack.last_mut() {
                    None => {
                        return error(line, "`//@ else` outside a `//@ level N` block");
                    }
                    Some(open) if open.block.kind == Kind::Only => {
                        return error(
                            line,
                            format!(
                                "`//@ else` in an {} block (line {}): only `//@ level N` and \
                                 `//@ from N` blocks have an alternative",
                                open.block.directive(),
                                open.block.line
                            ),
                        );
                    }
                    Some(open) => {
                        if let Some((first, _)) = open.block.otherwise {
                            return error(
                                line,
                                format!(
                                    "a second `//@ else` for the {} block of line {} (the first \
                                     is on line {first})",
                                    open.block.directive(),
                                    open.block.line
                                ),
                            );
                        }
                        open.block.otherwise = Some((line, Vec::new()));
                    }
                },
                Directive::End => {
                    let Some(open) = stack.pop() else {
                        return error(line, "`//@ end` without an open block");
                    };
                    current(&mut root, &mut stack).push(Node::Block(open.block));
                }
                Directive::Todo { indent, text } => {
                    let Some(open) = stack.last_mut() else {
                        return error(line, "`//@ todo` outside a `//@ level N` block");
                    };
                    let block = &open.block;
                    if block.kind != Kind::Level {
                        return error(
                            line,
                            format!(
                                "`//@ todo` outside a `//@ level N` block: the innermost block \
                                 is {} (line {})",
                                block.directive(),
                                block.line
                            ),
                        );
                    }
                    if let Some((else_line, _)) = block.otherwise {
                        return error(
                            line,
                            format!(
                                "`//@ todo` after the `//@ else` of line {else_line}: a block's \
                                 TODO text goes with its code, before `//@ else`"
                            ),
                        );
                    }
                    let (step, comment) = todo_comment(indent, block.level, text);
                    match step {
                        Some(step) => {
                            open.has_step = true;
                            steps
                                .entry(block.level)
                                .or_default()
                                .entry(step)
                                .or_insert(line);
                        }
                        None if !open.has_step => {
                            return error(
                                line,
                                "the first `//@ todo` of a block starts a step: write \
                                 `//@ todo K: text` with K the step number",
                            );
                        }
                        None => {}
                    }
                    open.block.code.push(Node::Todo(comment));
                }
            }
        }

        if let Some(open) = stack.last() {
            return error(
                open.block.line,
                format!(
                    "{} is never closed: add `//@ end` after its code",
                    open.block.directive()
                ),
            );
        }

        for (level, numbers) in &steps {
            let mut expected = 1;
            for (&step, &line) in numbers {
                if step != expected {
                    let message = if step == 0 {
                        "steps are numbered from 1".to_string()
                    } else {
                        format!("level {level} has a step {step} but no step {expected}")
                    };
                    return error(line, message);
                }
                expected = step + 1;
            }
        }

        let everywhere: Vec<(u32, Flavor)> = levels
            .iter()
            .flat_map(|&t| [(t, Flavor::Skeleton), (t, Flavor::Solution)])
            .collect();
        check_reachable(&root, &everywhere)?;

        Ok(Template {
            nodes: root,
            todo_levels: steps.into_keys().collect(),
        })
    }

    /// The levels that have at least one TODO step.
    pub fn todo_levels(&self) -> &BTreeSet<u32> {
        &self.todo_levels
    }

    /// The template as the skeleton or solution of level `target`, ending in one newline.
    pub fn render(&self, target: u32, flavor: Flavor) -> String {
        let mut out = Vec::new();
        render_into(&self.nodes, target, flavor, &mut out);
        tidy(&out)
    }
}

fn list(levels: &[u32]) -> String {
    let numbers: Vec<String> = levels.iter().map(u32::to_string).collect();
    if numbers.is_empty() {
        "no levels".to_string()
    } else {
        format!("levels {}", numbers.join(", "))
    }
}

/// Fails on a block part that no rendering emits, given the renderings (`visible`) in which the
/// nodes around it are emitted: a nesting mistake would otherwise silently lose code or TODOs.
fn check_reachable(nodes: &[Node], visible: &[(u32, Flavor)]) -> Result<(), TemplateError> {
    for node in nodes {
        let Node::Block(block) = node else { continue };
        let where_shown = |part: fn(&Shown) -> bool| -> Vec<(u32, Flavor)> {
            visible
                .iter()
                .copied()
                .filter(|&(t, f)| part(&block.shown(t, f)))
                .collect()
        };
        let never =
            "is never emitted: no level of the ladder renders it inside the blocks around it";

        let code_visible = where_shown(|s| s.code);
        let has_code = block.code.iter().any(|n| !matches!(n, Node::Todo(_)));
        if has_code && code_visible.is_empty() {
            let what = match block.kind {
                Kind::Only => format!("this {} block", block.directive()),
                _ => format!("the code of this {} block", block.directive()),
            };
            return error(block.line, format!("{what} {never}"));
        }
        if block.has_todos() && where_shown(|s| s.todos).is_empty() {
            return error(
                block.line,
                format!("the TODO text of this {} block {never}", block.directive()),
            );
        }
        check_reachable(&block.code, &code_visible)?;

        if let Some((else_line, otherwise)) = &block.otherwise {
            let else_visible = where_shown(|s| s.otherwise);
            if !otherwise.is_empty() && else_visible.is_empty() {
                return error(
                    *else_line,
                    format!(
                        "the `//@ else` part of the {} block of line {} {never}",
                        block.directive(),
                        block.line
                    ),
                );
            }
            check_reachable(otherwise, &else_visible)?;
        }
    }
    Ok(())
}

/// A rendered line, or the place of a directive (where content may have been removed).
enum Out<'a> {
    Text(&'a str),
    Cut,
}

fn render_into<'a>(nodes: &'a [Node], target: u32, flavor: Flavor, out: &mut Vec<Out<'a>>) {
    for node in nodes {
        match node {
            Node::Text(text) => out.push(Out::Text(text)),
            // Emitted by their block, and only in the skeleton of its level.
            Node::Todo(_) => {}
            Node::Block(block) => {
                let shown = block.shown(target, flavor);
                out.push(Out::Cut);
                if shown.code {
                    render_into(&block.code, target, flavor, out);
                }
                if shown.todos {
                    render_todos(&block.code, out);
                }
                if shown.otherwise {
                    if let Some((_, otherwise)) = &block.otherwise {
                        render_into(otherwise, target, flavor, out);
                    }
                }
                out.push(Out::Cut);
            }
        }
    }
}

/// The TODO lines of a block's code, standing where the code they describe starts: a blank line
/// just before or after a group of todo lines (separating it from the code above, or the todo
/// from its code) goes before the group. The rest of the code becomes cuts.
fn render_todos<'a>(code: &'a [Node], out: &mut Vec<Out<'a>>) {
    let blank_at = |i: usize| matches!(code.get(i), Some(Node::Text(text)) if is_blank(text));
    let mut i = 0;
    while i < code.len() {
        if !matches!(code[i], Node::Todo(_)) {
            out.push(Out::Cut);
            i += 1;
            continue;
        }
        let start = i;
        while matches!(code.get(i), Some(Node::Todo(_))) {
            i += 1;
        }
        if (start > 0 && blank_at(start - 1)) || blank_at(i) {
            out.push(Out::Text(""));
        }
        out.extend(code[start..i].iter().filter_map(|node| match node {
            Node::Todo(line) => Some(Out::Text(line.as_str())),
            _ => None,
        }));
    }
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Joins the rendered lines, keeping the output as rustfmt would leave it where blocks were
/// removed: a run of blank lines around removed content becomes one blank line, or none at the
/// start or end of the file or of a `{`, `(` or `[` group. Blank runs the template itself has
/// are kept. Ends with exactly one newline (none for empty output).
fn tidy(out: &[Out<'_>]) -> String {
    let mut lines: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < out.len() {
        if let Out::Text(text) = out[i] {
            if !is_blank(text) {
                lines.push(text);
                i += 1;
                continue;
            }
        }
        // A run of blank lines and cuts.
        let start = i;
        while let Some(item) = out.get(i) {
            match item {
                Out::Text(text) if !is_blank(text) => break,
                _ => i += 1,
            }
        }
        let run = &out[start..i];
        let blanks: Vec<&str> = run
            .iter()
            .filter_map(|o| match o {
                Out::Text(text) => Some(*text),
                Out::Cut => None,
            })
            .collect();
        if blanks.is_empty() || lines.is_empty() || i == out.len() {
            continue;
        }
        if !run.iter().any(|o| matches!(o, Out::Cut)) {
            lines.extend(blanks);
            continue;
        }
        let after_open = lines
            .last()
            .is_some_and(|l| l.trim_end().ends_with(['{', '(', '[']));
        let before_close = match out.get(i) {
            Some(Out::Text(next)) => next.trim_start().starts_with(['}', ')', ']']),
            _ => false,
        };
        if !after_open && !before_close {
            lines.push("");
        }
    }
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEVELS: &[u32] = &[0, 1, 2, 3, 4];

    fn parse(source: &str) -> Template {
        match Template::parse(source, LEVELS) {
            Ok(template) => template,
            Err(e) => panic!("template should parse: {e}"),
        }
    }

    fn solution(source: &str, level: u32) -> String {
        parse(source).render(level, Flavor::Solution)
    }

    fn skeleton(source: &str, level: u32) -> String {
        parse(source).render(level, Flavor::Skeleton)
    }

    fn error_of(source: &str) -> TemplateError {
        match Template::parse(source, LEVELS) {
            Ok(_) => panic!("template should be rejected:\n{source}"),
            Err(e) => e,
        }
    }

    const ONE_BLOCK: &str = "\
fn main() {
    setup();
    //@ level 2
    //@ todo 1: mount /proc.
    mount_proc();
    //@ else
    old_way();
    //@ end
    run();
}
";

    #[test]
    fn solution_emits_code_from_its_level_on_and_the_else_part_before() {
        let before = "fn main() {\n    setup();\n    old_way();\n    run();\n}\n";
        let after = "fn main() {\n    setup();\n    mount_proc();\n    run();\n}\n";
        assert_eq!(solution(ONE_BLOCK, 1), before);
        assert_eq!(solution(ONE_BLOCK, 2), after);
        assert_eq!(solution(ONE_BLOCK, 3), after);
    }

    #[test]
    fn skeleton_has_the_todos_of_its_level_then_the_else_part() {
        assert_eq!(skeleton(ONE_BLOCK, 1), solution(ONE_BLOCK, 1));
        assert_eq!(
            skeleton(ONE_BLOCK, 2),
            "fn main() {\n    setup();\n    // TODO(level 2) step 1: mount /proc.\n    \
             old_way();\n    run();\n}\n"
        );
        assert_eq!(skeleton(ONE_BLOCK, 3), solution(ONE_BLOCK, 2));
    }

    #[test]
    fn todo_steps_and_continuations_keep_their_order_and_indentation() {
        let source = "\
fn child() {
    //@ level 1
    //@ todo 1: unshare the mount namespace,
    //@ todo    then make mounts private.
    unshare();
    //@ todo
    //@ todo        let x = deeper();
    private();
    //@ todo 2:   mount proc.
    mount_proc();
    //@ end
}
";
        assert_eq!(
            skeleton(source, 1),
            "\
fn child() {
    // TODO(level 1) step 1: unshare the mount namespace,
    //     then make mounts private.
    //
    //         let x = deeper();
    // TODO(level 1) step 2: mount proc.
}
"
        );
        assert_eq!(
            solution(source, 1),
            "fn child() {\n    unshare();\n    private();\n    mount_proc();\n}\n"
        );
    }

    #[test]
    fn a_blank_line_next_to_todo_lines_separates_them_from_the_code_above() {
        // The blank line sits inside the block so that the solution has exactly one; in the
        // skeleton it goes before the TODO, which stands where the item would start.
        let source = "\
fn run() {}
//@ level 1
//@ todo 1: write `child`.

/// In the child.
fn child() {}
//@ end
//@ level 1

//@ todo 2: write `wait_for`.
/// Waits.
fn wait_for() {}
//@ end
";
        assert_eq!(
            skeleton(source, 1),
            "fn run() {}\n\n// TODO(level 1) step 1: write `child`.\n\n\
             // TODO(level 1) step 2: write `wait_for`.\n"
        );
        assert_eq!(
            solution(source, 1),
            "fn run() {}\n\n/// In the child.\nfn child() {}\n\n/// Waits.\nfn wait_for() {}\n"
        );
        // Inside a function body, at the opening brace, no blank line is added.
        let source = "fn f() {\n    //@ level 1\n    //@ todo 1: x\n\n    x();\n    //@ end\n}\n";
        assert_eq!(
            skeleton(source, 1),
            "fn f() {\n    // TODO(level 1) step 1: x\n}\n"
        );
    }

    #[test]
    fn removed_code_leaves_no_blank_lines_between_todo_steps() {
        let source = "\
fn f() {
    //@ level 1
    //@ todo 1: a
    a();
    //@ todo 2: b
    if b {
        c();

        d();
    }
    //@ todo 3: e
    //@ end
}
";
        assert_eq!(
            skeleton(source, 1),
            "fn f() {\n    // TODO(level 1) step 1: a\n    // TODO(level 1) step 2: b\n    \
             // TODO(level 1) step 3: e\n}\n"
        );
    }

    #[test]
    fn a_one_space_continuation_reads_like_an_aligned_one() {
        let source = "//@ level 0\n//@ todo 1: a\n//@ todo b\n//@ end\n";
        assert_eq!(
            skeleton(source, 0),
            "// TODO(level 0) step 1: a\n//     b\n"
        );
    }

    #[test]
    fn nested_blocks_render_by_their_own_levels() {
        let source = "\
fn child() {
    //@ level 1
    //@ todo 1: write child.
    prepare();
    //@ level 3
    //@ todo 1: pivot_root instead of chroot.
    pivot();
    //@ else
    //@ level 2
    //@ todo 1: chroot.
    chroot();
    //@ end
    //@ end
    exec();
    //@ end
}
";
        let body = |lines: &[&str]| {
            let mut text = String::from("fn child() {\n");
            for line in lines {
                text.push_str(&format!("    {line}\n"));
            }
            text.push_str("}\n");
            text
        };
        assert_eq!(solution(source, 0), "fn child() {\n}\n");
        assert_eq!(
            skeleton(source, 1),
            body(&["// TODO(level 1) step 1: write child."])
        );
        assert_eq!(solution(source, 1), body(&["prepare();", "exec();"]));
        assert_eq!(
            skeleton(source, 2),
            body(&["prepare();", "// TODO(level 2) step 1: chroot.", "exec();"])
        );
        assert_eq!(
            solution(source, 2),
            body(&["prepare();", "chroot();", "exec();"])
        );
        assert_eq!(
            skeleton(source, 3),
            body(&[
                "prepare();",
                "// TODO(level 3) step 1: pivot_root instead of chroot.",
                "chroot();",
                "exec();"
            ])
        );
        assert_eq!(
            solution(source, 3),
            body(&["prepare();", "pivot();", "exec();"])
        );
        assert_eq!(skeleton(source, 4), solution(source, 3));
    }

    #[test]
    fn only_blocks_appear_in_both_crates_of_their_level_alone() {
        let source = "//@ only 2\n//! Level 2.\n//@ end\n//@ only 3\n//! Level 3.\n//@ end\n\nfn main() {}\n";
        for flavor in [Flavor::Skeleton, Flavor::Solution] {
            let template = parse(source);
            assert_eq!(template.render(1, flavor), "fn main() {}\n");
            assert_eq!(template.render(2, flavor), "//! Level 2.\n\nfn main() {}\n");
            assert_eq!(template.render(3, flavor), "//! Level 3.\n\nfn main() {}\n");
        }
    }

    #[test]
    fn only_blocks_nest_inside_level_blocks() {
        let source =
            "//@ level 1\n//@ todo 1: do it.\nit();\n//@ only 2\nsay_hi();\n//@ end\n//@ end\n";
        assert_eq!(skeleton(source, 1), "// TODO(level 1) step 1: do it.\n");
        assert_eq!(solution(source, 1), "it();\n");
        assert_eq!(skeleton(source, 2), "it();\nsay_hi();\n");
        assert_eq!(solution(source, 3), "it();\n");
    }

    #[test]
    fn from_blocks_are_given_code_in_skeleton_and_solution_alike() {
        let source = "//@ from 2\nuse std::path::Path;\n//@ else\nuse std::path;\n//@ end\n";
        for flavor in [Flavor::Skeleton, Flavor::Solution] {
            let template = parse(source);
            assert_eq!(template.render(1, flavor), "use std::path;\n");
            assert_eq!(template.render(2, flavor), "use std::path::Path;\n");
            assert_eq!(template.render(3, flavor), "use std::path::Path;\n");
        }
    }

    #[test]
    fn blank_lines_around_removed_blocks_collapse_to_one() {
        let source = "\
use a;

//@ level 2

fn two() {}
//@ end

//@ level 3

fn three() {}
//@ end

fn main() {}
";
        assert_eq!(solution(source, 1), "use a;\n\nfn main() {}\n");
        assert_eq!(
            solution(source, 2),
            "use a;\n\nfn two() {}\n\nfn main() {}\n"
        );
        assert_eq!(
            solution(source, 3),
            "use a;\n\nfn two() {}\n\nfn three() {}\n\nfn main() {}\n"
        );
    }

    #[test]
    fn no_blank_line_is_left_at_a_block_edge_or_the_file_ends() {
        let source = "\
//@ level 2
use a;

//@ end
fn main() {
    //@ level 2
    a();

    //@ end
    b();

    //@ level 2
    c();
    //@ end
}

//@ level 2
fn two() {}
//@ end
";
        assert_eq!(solution(source, 1), "fn main() {\n    b();\n}\n");
        assert_eq!(
            solution(source, 2),
            "use a;\n\nfn main() {\n    a();\n\n    b();\n\n    c();\n}\n\nfn two() {}\n"
        );
    }

    #[test]
    fn blank_lines_the_template_itself_has_are_kept() {
        let source = "const S: &str = \"a\n\n\nb\";\n";
        assert_eq!(solution(source, 0), source);
    }

    #[test]
    fn trailing_blank_lines_become_one_final_newline() {
        assert_eq!(solution("fn main() {}\n\n\n", 0), "fn main() {}\n");
        assert_eq!(solution("fn main() {}", 0), "fn main() {}\n");
        assert_eq!(solution("//@ level 3\nx();\n//@ end\n", 0), "");
    }

    #[test]
    fn directives_may_be_indented_or_unspaced() {
        assert_eq!(solution("  //@level 1\nx();\n      //@end\n", 1), "x();\n");
    }

    #[test]
    fn todo_levels_lists_the_levels_with_steps() {
        let template = parse(ONE_BLOCK);
        assert_eq!(
            template.todo_levels().iter().copied().collect::<Vec<_>>(),
            [2]
        );
    }

    #[test]
    fn an_unclosed_block_names_its_opening_line() {
        let e = error_of("a();\n//@ level 1\nb();\n//@ level 2\nc();\n//@ end\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("never closed"), "{e}");
    }

    #[test]
    fn an_end_without_a_block_is_rejected() {
        let e = error_of("a();\n//@ level 1\n//@ end\n//@ end\n");
        assert_eq!(e.line, 4);
        assert!(e.message.contains("without an open block"), "{e}");
    }

    #[test]
    fn else_outside_a_level_block_is_rejected() {
        let e = error_of("a();\n//@ else\n");
        assert_eq!(
            (e.line, e.message.as_str()),
            (2, "`//@ else` outside a `//@ level N` block")
        );
        let e = error_of("//@ only 1\n//@ else\n//@ end\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("`//@ only 1` block"), "{e}");
    }

    #[test]
    fn a_second_else_is_rejected() {
        let e = error_of("//@ level 1\na();\n//@ else\nb();\n//@ else\nc();\n//@ end\n");
        assert_eq!(e.line, 5);
        assert!(e.message.contains("second `//@ else`"), "{e}");
    }

    #[test]
    fn todo_outside_a_level_block_is_rejected() {
        let e = error_of("//@ todo 1: nothing to attach to\n");
        assert_eq!(
            (e.line, e.message.as_str()),
            (1, "`//@ todo` outside a `//@ level N` block")
        );
        let e = error_of("//@ level 1\n//@ only 1\n//@ todo 1: x\n//@ end\n//@ end\n");
        assert_eq!(e.line, 3);
        assert!(e.message.contains("outside a `//@ level N` block"), "{e}");
        let e = error_of("//@ from 1\n//@ todo 1: x\n//@ end\n");
        assert_eq!(e.line, 2);
    }

    #[test]
    fn todo_after_else_is_rejected() {
        let e = error_of("//@ level 1\na();\n//@ else\n//@ todo 1: x\n//@ end\n");
        assert_eq!(e.line, 4);
        assert!(e.message.contains("after the `//@ else` of line 3"), "{e}");
    }

    #[test]
    fn a_block_s_first_todo_needs_a_step_number() {
        let e = error_of("//@ level 1\n//@ todo do something\n//@ end\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("`//@ todo K: text`"), "{e}");
    }

    #[test]
    fn steps_of_a_level_are_numbered_from_one_without_gaps() {
        let e = error_of("//@ level 1\n//@ todo 1: a\n//@ todo 3: c\n//@ end\n");
        assert_eq!(
            (e.line, e.message.as_str()),
            (3, "level 1 has a step 3 but no step 2")
        );
        let e = error_of("//@ level 1\n//@ todo 0: a\n//@ end\n");
        assert_eq!(
            (e.line, e.message.as_str()),
            (2, "steps are numbered from 1")
        );
        // Steps may be spread over several blocks of the same level.
        let source = "//@ level 1\n//@ todo 2: b\n//@ end\n//@ level 1\n//@ todo 1: a\n//@ end\n";
        assert_eq!(
            skeleton(source, 1),
            "// TODO(level 1) step 2: b\n// TODO(level 1) step 1: a\n"
        );
    }

    #[test]
    fn unknown_directives_are_rejected() {
        for (source, found) in [
            ("//@ levle 1\n", "`//@ levle 1`"),
            ("//@\n", "`//@`"),
            ("  //@ todo_later\n", "`//@ todo_later`"),
        ] {
            let e = error_of(source);
            assert_eq!(e.line, 1);
            assert!(
                e.message.starts_with(&format!("unknown directive {found}")),
                "{e}"
            );
        }
    }

    #[test]
    fn malformed_arguments_are_rejected() {
        for (source, line) in [
            ("//@ level\n//@ end\n", 1),
            ("//@ level two\n//@ end\n", 1),
            ("//@ only 1 2\n//@ end\n", 1),
            ("//@ level 1\n//@ end level 1\n", 2),
            ("//@ level 1\n//@ else if\n//@ end\n", 2),
        ] {
            assert_eq!(error_of(source).line, line, "{source}");
        }
    }

    #[test]
    fn a_level_outside_the_ladder_is_rejected() {
        let e = error_of("a();\n//@ level 9\n//@ end\n");
        assert_eq!(
            (e.line, e.message.as_str()),
            (
                2,
                "level 9 is not in the ladder (kit::ladder::LADDER has levels 0, 1, 2, 3, 4)"
            )
        );
        assert_eq!(error_of("//@ only 5\n//@ end\n").line, 1);
        assert_eq!(error_of("//@ from 7\n//@ end\n").line, 1);
    }

    #[test]
    fn blocks_that_no_level_can_emit_are_rejected() {
        // Level 1 code inside level 3 code: whenever level 3 code shows, level 1 is long done,
        // so the level 1 TODO can never appear.
        let e = error_of("//@ level 3\n//@ level 1\n//@ todo 1: x\nx();\n//@ end\n//@ end\n");
        assert_eq!(e.line, 2);
        assert!(
            e.message.contains("TODO text of this `//@ level 1` block"),
            "{e}"
        );
        // An else-part of level 1 inside level 2 code.
        let e = error_of("//@ level 2\n//@ level 1\na();\n//@ else\nb();\n//@ end\n//@ end\n");
        assert_eq!(e.line, 4);
        assert!(e.message.contains("`//@ else` part"), "{e}");
        // Level 3 code in the part that only shows before level 2.
        let e = error_of("//@ level 2\na();\n//@ else\n//@ level 3\nb();\n//@ end\n//@ end\n");
        assert_eq!(e.line, 4);
        assert!(
            e.message.contains("code of this `//@ level 3` block"),
            "{e}"
        );
        // An only block for a level its surroundings exclude.
        let e = error_of("//@ from 2\n//@ only 1\nb();\n//@ end\n//@ end\n");
        assert_eq!(e.line, 2);
        assert!(
            e.message
                .contains("this `//@ only 1` block is never emitted"),
            "{e}"
        );
    }
}
