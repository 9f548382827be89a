//! Rendering a parsed template for one level: which parts of each block show, where the TODO
//! lines stand, which file a top-level block goes to, and the blank lines around what was cut.

use super::{Block, Flavor, Node, Todo};

/// The widest line a TODO step is wrapped to.
const WIDTH: usize = 100;

/// A rendered line, or the place of a directive (where content may have been removed).
enum Out {
    Text(String),
    Cut,
}

/// The template as one file.
#[cfg(test)]
pub(super) fn one(nodes: &[Node], target: u32, flavor: Flavor) -> String {
    let mut out = Vec::new();
    render_into(nodes, target, flavor, &mut out);
    tidy(&out)
}

/// The template as `main.rs` and `earlier.rs` (empty when no earlier level wrote anything).
pub(super) fn split(nodes: &[Node], target: u32, flavor: Flavor) -> (String, String) {
    let (mut main, mut earlier) = (Vec::new(), Vec::new());
    route(nodes, target, flavor, &mut main, &mut earlier);
    (tidy(&main), tidy(&earlier))
}

/// Sends each top-level node to its file: a block outside any item (at brace depth 0) whose code
/// shows goes to `earlier` when an earlier level introduced it; a block whose else-part shows
/// routes that part's own blocks. Everything else, blocks inside `fn run` included, is `main`'s.
fn route(nodes: &[Node], target: u32, flavor: Flavor, main: &mut Vec<Out>, earlier: &mut Vec<Out>) {
    let mut depth = 0;
    for node in nodes {
        let block = match node {
            Node::Block(block) if depth == 0 => block,
            _ => {
                if let Node::Text(text) = node {
                    depth += brace_balance(text);
                }
                render_into(std::slice::from_ref(node), target, flavor, main);
                continue;
            }
        };
        let shown = block.shown(target, flavor);
        main.push(Out::Cut);
        earlier.push(Out::Cut);
        if shown.code || shown.todos {
            let file = match block.introduced() {
                Some(level) if level < target => &mut *earlier,
                _ => &mut *main,
            };
            render_block(block, target, flavor, file);
        } else if let (true, Some((_, otherwise))) = (shown.otherwise, &block.otherwise) {
            route(otherwise, target, flavor, main, earlier);
        }
        main.push(Out::Cut);
        earlier.push(Out::Cut);
    }
}

/// How many more `{` than `}` a line of code has, outside comments and string literals.
fn brace_balance(line: &str) -> i32 {
    let (mut balance, mut in_string, mut escaped) = (0, false, false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '/' if !in_string && chars.peek() == Some(&'/') => break,
            '{' if !in_string => balance += 1,
            '}' if !in_string => balance -= 1,
            _ => {}
        }
    }
    balance
}

fn render_into(nodes: &[Node], target: u32, flavor: Flavor, out: &mut Vec<Out>) {
    for node in nodes {
        match node {
            Node::Text(text) => out.push(Out::Text(text.clone())),
            // Emitted by their block, and only in the skeleton of its level.
            Node::Todo(_) => {}
            Node::Block(block) => {
                out.push(Out::Cut);
                render_block(block, target, flavor, out);
                out.push(Out::Cut);
            }
        }
    }
}

/// The parts of `block` that this rendering shows.
fn render_block(block: &Block, target: u32, flavor: Flavor, out: &mut Vec<Out>) {
    let shown = block.shown(target, flavor);
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
}

/// The TODO lines of a block's code, standing where the code they describe starts: a blank line
/// just before or after a group of todo lines (separating it from the code above, or the todo
/// from its code) goes before the group. The rest of the code becomes cuts.
fn render_todos(code: &[Node], out: &mut Vec<Out>) {
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
            out.push(Out::Text(String::new()));
        }
        let todos: Vec<&Todo> = code[start..i]
            .iter()
            .filter_map(|node| match node {
                Node::Todo(todo) => Some(todo),
                _ => None,
            })
            .collect();
        out.extend(todo_lines(&todos).into_iter().map(Out::Text));
    }
}

/// A group of todo lines as comments: each step's text, with the continuations that read on
/// from it, wrapped to [`WIDTH`]; an empty or deeper-indented continuation as it is.
fn todo_lines(todos: &[&Todo]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut paragraph: Option<(String, String, Vec<&str>)> = None;
    let flush = |paragraph: &mut Option<(String, String, Vec<&str>)>, lines: &mut Vec<String>| {
        if let Some((first, rest, words)) = paragraph.take() {
            lines.extend(wrap(&first, &rest, &words));
        }
    };
    for todo in todos {
        let indent = &todo.indent;
        match todo.step {
            Some(step) => {
                flush(&mut paragraph, &mut lines);
                let first = format!("{indent}// TODO(level {}) step {step}: ", todo.level);
                let words = todo.text.split_whitespace().collect();
                paragraph = Some((first, format!("{indent}//     "), words));
            }
            None if todo.text.is_empty() || todo.text.starts_with(' ') => {
                flush(&mut paragraph, &mut lines);
                let text = &todo.text;
                let line = format!("{indent}//     {text}");
                lines.push(if text.is_empty() {
                    format!("{indent}//")
                } else {
                    line
                });
            }
            None => match &mut paragraph {
                Some((_, _, words)) => words.extend(todo.text.split_whitespace()),
                None => lines.push(format!("{indent}//     {}", todo.text)),
            },
        }
    }
    flush(&mut paragraph, &mut lines);
    lines
}

/// `words` as lines of at most [`WIDTH`] characters (a longer word stands alone), the first
/// starting with `first`, the others with `rest`.
fn wrap(first: &str, rest: &str, words: &[&str]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in words {
        let width = line.chars().count() + usize::from(!empty) + word.chars().count();
        if !empty && width > WIDTH {
            lines.push(std::mem::replace(&mut line, rest.to_string()));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    lines.push(line.trim_end().to_string());
    lines
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Joins the rendered lines, keeping the output as rustfmt would leave it where blocks were
/// removed: a run of blank lines around removed content becomes one blank line, or none at the
/// start or end of the file or of a `{`, `(` or `[` group. Blank runs the template itself has
/// are kept. Ends with exactly one newline (none for empty output).
fn tidy(out: &[Out]) -> String {
    let mut lines: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < out.len() {
        if let Out::Text(text) = &out[i] {
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
                Out::Text(text) => Some(text.as_str()),
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
