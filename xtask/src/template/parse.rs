//! Reading a template: one handler per directive, each checking what it can on its own line,
//! then the checks that need the whole template (step numbering, reachability).

use std::collections::BTreeMap;

use super::{error, Block, Flavor, Kind, Node, Shown, Template, TemplateError, Todo};

/// One line of the template, read.
enum Line<'a> {
    Text,
    /// A block's kind, first level and, for a range, last level.
    Open(Kind, u32, Option<u32>),
    Else,
    End,
    Todo {
        indent: &'a str,
        text: &'a str,
    },
}

/// A block being read.
struct Open {
    block: Block,
    /// Whether a `//@ todo K:` line has started a step in this block.
    has_step: bool,
}

/// The state of a parse: the nodes read so far and the blocks still open.
struct Parser<'l> {
    levels: &'l [u32],
    root: Vec<Node>,
    stack: Vec<Open>,
    /// Per level, each step number and the first line it appears on.
    steps: BTreeMap<u32, BTreeMap<u32, usize>>,
}

pub(super) fn parse(source: &str, levels: &[u32]) -> Result<Template, TemplateError> {
    let mut parser = Parser {
        levels,
        root: Vec::new(),
        stack: Vec::new(),
        steps: BTreeMap::new(),
    };
    for (index, raw) in source.lines().enumerate() {
        let line = index + 1;
        match read_line(raw, line)? {
            Line::Text => parser.current().push(Node::Text(raw.to_string())),
            Line::Open(kind, level, last) => parser.open(kind, (level, last), line)?,
            Line::Else => parser.otherwise(line)?,
            Line::End => parser.end(line)?,
            Line::Todo { indent, text } => parser.todo(indent, text, line)?,
        }
    }
    parser.finish()
}

/// Reads one line: text, or the directive it holds.
fn read_line(raw: &str, line: usize) -> Result<Line<'_>, TemplateError> {
    let trimmed = raw.trim_start();
    let Some(rest) = trimmed.strip_prefix("//@") else {
        return Ok(Line::Text);
    };
    let indent = &raw[..raw.len() - trimmed.len()];
    let body = rest.trim_start();
    let (word, arg) = match body.find(char::is_whitespace) {
        Some(i) => body.split_at(i),
        None => (body, ""),
    };
    let shown = trimmed.trim_end();
    let no_argument = |directive| {
        if arg.trim().is_empty() {
            Ok(directive)
        } else {
            error(
                line,
                format!("`//@ {word}` takes no argument, found `{shown}`"),
            )
        }
    };
    let number = |kind| match arg.trim().parse::<u32>() {
        Ok(n) => Ok(Line::Open(kind, n, None)),
        Err(_) => error(
            line,
            format!("expected `//@ {word} N` with N a level number, found `{shown}`"),
        ),
    };
    match word {
        "level" => number(Kind::Level),
        "from" if arg.contains("..") => read_range(Kind::From, arg, shown, line),
        "from" => number(Kind::From),
        "only" => number(Kind::Only),
        "levels" => read_range(Kind::Level, arg, shown, line),
        "main" => no_argument(Line::Open(Kind::Main, 0, None)),
        "else" => no_argument(Line::Else),
        "end" => no_argument(Line::End),
        "todo" => Ok(Line::Todo { indent, text: arg }),
        _ => error(
            line,
            format!(
                "unknown directive `{shown}`: expected `//@ level N`, `//@ levels A..=B`, \
                 `//@ from N`, `//@ from A..=B`, `//@ only N`, `//@ main`, `//@ todo ...`, \
                 `//@ else` or `//@ end`"
            ),
        ),
    }
}

/// `A..=B` with A <= B.
fn read_range<'a>(
    kind: Kind,
    arg: &str,
    shown: &str,
    line: usize,
) -> Result<Line<'a>, TemplateError> {
    let range = arg.trim().split_once("..=").and_then(|(first, last)| {
        let (first, last) = (first.parse::<u32>().ok()?, last.parse::<u32>().ok()?);
        (first <= last).then_some((first, last))
    });
    match range {
        Some((first, last)) => Ok(Line::Open(kind, first, Some(last))),
        None => error(
            line,
            format!("expected a range `A..=B` of level numbers with A <= B, found `{shown}`"),
        ),
    }
}

/// A todo directive's text: its step number if it starts a step, and the text itself.
fn todo_text(text: &str) -> (Option<u32>, String) {
    let stripped = text.trim_start();
    if let Some((number, rest)) = stripped.split_once(':') {
        if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(step) = number.parse::<u32>() {
                return (Some(step), rest.trim().to_string());
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
    (None, continuation.to_string())
}

impl Parser<'_> {
    /// Where the next line goes: the innermost open block's current part, or the top level.
    fn current(&mut self) -> &mut Vec<Node> {
        match self.stack.last_mut() {
            Some(Open {
                block:
                    Block {
                        otherwise: Some((_, nodes)),
                        ..
                    },
                ..
            }) => nodes,
            Some(open) => &mut open.block.code,
            None => &mut self.root,
        }
    }

    fn open(
        &mut self,
        kind: Kind,
        levels: (u32, Option<u32>),
        line: usize,
    ) -> Result<(), TemplateError> {
        let (level, last) = levels;
        for n in [level, last.unwrap_or(level)] {
            if kind != Kind::Main && !self.levels.contains(&n) {
                return error(
                    line,
                    format!(
                        "level {n} is not in the ladder (kit::ladder::LADDER has {})",
                        list(self.levels)
                    ),
                );
            }
        }
        if kind == Kind::Main && !self.stack.is_empty() {
            return error(
                line,
                "`//@ main` inside a block: it only says where top-level code goes",
            );
        }
        self.stack.push(Open {
            block: Block {
                kind,
                level,
                last,
                line,
                code: Vec::new(),
                otherwise: None,
            },
            has_step: false,
        });
        Ok(())
    }

    fn otherwise(&mut self, line: usize) -> Result<(), TemplateError> {
        let Some(open) = self.stack.last_mut() else {
            return error(line, "`//@ else` outside a `//@ level N` block");
        };
        let block = &mut open.block;
        let place = block.place();
        if !matches!(block.kind, Kind::Level | Kind::From) || block.last.is_some() {
            let why = "only `//@ level N` and `//@ from N` blocks have an alternative";
            return error(line, format!("`//@ else` in the {place}: {why}"));
        }
        if let Some((first, _)) = block.otherwise {
            let message = format!("a second `//@ else` for the {place} (the first: line {first})");
            return error(line, message);
        }
        block.otherwise = Some((line, Vec::new()));
        Ok(())
    }

    fn end(&mut self, line: usize) -> Result<(), TemplateError> {
        let Some(open) = self.stack.pop() else {
            return error(line, "`//@ end` without an open block");
        };
        self.current().push(Node::Block(open.block));
        Ok(())
    }

    fn todo(&mut self, indent: &str, text: &str, line: usize) -> Result<(), TemplateError> {
        let Some(open) = self.stack.last_mut() else {
            return error(line, "`//@ todo` outside a `//@ level N` block");
        };
        let block = &open.block;
        if block.kind != Kind::Level {
            let place = block.place();
            let message = format!("`//@ todo` outside a `//@ level N` block: inside the {place}");
            return error(line, message);
        }
        if let Some((else_line, _)) = block.otherwise {
            return error(
                line,
                format!(
                    "`//@ todo` after the `//@ else` of line {else_line}: a block's TODO text \
                     goes with its code, before `//@ else`"
                ),
            );
        }
        let (step, text) = todo_text(text);
        match step {
            Some(step) => {
                open.has_step = true;
                let steps = self.steps.entry(block.level).or_default();
                steps.entry(step).or_insert(line);
            }
            None if !open.has_step => {
                return error(
                    line,
                    "the first `//@ todo` of a block starts a step: write `//@ todo K: text` \
                     with K the step number",
                );
            }
            None => {}
        }
        let todo = Todo {
            indent: indent.to_string(),
            level: block.level,
            step,
            text,
        };
        open.block.code.push(Node::Todo(todo));
        Ok(())
    }

    fn finish(self) -> Result<Template, TemplateError> {
        if let Some(open) = self.stack.last() {
            return error(
                open.block.line,
                format!(
                    "{} is never closed: add `//@ end` after its code",
                    open.block.directive()
                ),
            );
        }
        check_steps(&self.steps)?;
        let everywhere: Vec<(u32, Flavor)> = self
            .levels
            .iter()
            .flat_map(|&t| [(t, Flavor::Skeleton), (t, Flavor::Solution)])
            .collect();
        check_reachable(&self.root, &everywhere)?;
        Ok(Template {
            nodes: self.root,
            todo_levels: self.steps.into_keys().collect(),
        })
    }
}

/// Each level's steps are numbered 1, 2, 3, … without gaps.
fn check_steps(steps: &BTreeMap<u32, BTreeMap<u32, usize>>) -> Result<(), TemplateError> {
    for (level, numbers) in steps {
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
    Ok(())
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
