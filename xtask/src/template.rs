//! The level template: one annotated Rust file that renders as the skeleton or the solution of
//! any level of the ladder.
//!
//! Directives are whole lines whose trimmed text starts with `//@`; they are never emitted.
//!
//! ```text
//! //@ level N       code the attendee writes at level N; until `//@ else` or `//@ end`
//! //@ levels A..=B  code the attendee writes at level A and that level B+1 replaces: shown in
//!                   the solutions of A to B (and the skeletons of A+1 to B+1)
//! //@ todo K: ..    (in a `level` or `levels` block) starts step K of that level's TODO text
//! //@ todo ..       (in a `level` or `levels` block) continues the step above
//! //@ from N        code given from level N on, in skeletons and solutions alike
//! //@ from A..=B    code given from level A on that level B+1 replaces
//! //@ only N        lines emitted only when rendering level N, skeleton and solution
//! //@ main          (at the top) code that stays in main.rs at every level: the story
//! //@ else          (in a `level N` or `from N` block) what stands there before level N
//! //@ end           closes the innermost block
//! ```
//!
//! Rendering level T as a solution, a `level N` block emits its code when N <= T, otherwise its
//! else-part. As a skeleton, it emits its code when N < T, its TODO lines followed by its
//! else-part when N == T, and its else-part when N > T. So the skeleton of level T is the
//! solution of level T-1 plus level T's TODOs (plus any `only T` lines).
//!
//! [`Template::render`] splits a level into two files. A block at the top of the template
//! belongs to the level that introduced it (N of `level N` and `from N`, A of `levels A..=B`): at
//! that level it goes to `main.rs`, at later levels to `earlier.rs`, the module of what earlier
//! levels wrote. Everything else (`fn main`, `run`, `//@ main` blocks, `only` blocks) stays in
//! `main.rs`. The template's `use` lines are a pool: each file gets those it uses (see
//! [`imports`]).
//!
//! A todo line `//@ todo K: text` becomes `// TODO(level N) step K: text`, and a continuation
//! `//@ todo text` continues it (up to four spaces after `todo` are alignment); a step's text is
//! wrapped to 100 columns, at the indentation of its directive line. A continuation indented
//! deeper, or empty, is kept as it is (`//` then the text). In the skeleton the TODO lines stand
//! where their code starts: a blank line next to a group of todo lines goes before the group.
//!
//! Where blocks were removed, blank lines collapse to one, and to none at the start or end of the
//! file or of a `{`/`(`/`[` group, so that a rustfmt-clean template renders rustfmt-clean code.

pub mod imports;
mod parse;
mod render;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
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

/// A level rendered as its two source files, before rustfmt.
#[derive(Debug, PartialEq, Eq)]
pub struct Rendered {
    /// `src/main.rs`: the story and this level's code.
    pub main: String,
    /// `src/earlier.rs`: what earlier levels introduced; empty when there is none.
    pub earlier: String,
}

#[derive(Debug)]
enum Node {
    /// A template line, emitted as is.
    Text(String),
    /// A TODO line; emitted by its block, in the skeleton of its level.
    Todo(Todo),
    Block(Block),
}

/// One `//@ todo` line.
#[derive(Debug)]
struct Todo {
    indent: String,
    level: u32,
    /// `Some(K)` for `//@ todo K: text`, `None` for a continuation.
    step: Option<u32>,
    /// The text, without the step number or the alignment spaces of a continuation.
    text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Level,
    From,
    Only,
    Main,
}

#[derive(Debug)]
struct Block {
    kind: Kind,
    level: u32,
    /// B of `levels A..=B` and `from A..=B`: the last solution with the code.
    last: Option<u32>,
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
        let n = self.level;
        match (self.kind, self.last) {
            (Kind::Level, Some(last)) => format!("`//@ levels {n}..={last}`"),
            (Kind::From, Some(last)) => format!("`//@ from {n}..={last}`"),
            (Kind::Level, None) => format!("`//@ level {n}`"),
            (Kind::From, None) => format!("`//@ from {n}`"),
            (Kind::Only, _) => format!("`//@ only {n}`"),
            (Kind::Main, _) => "`//@ main`".to_string(),
        }
    }

    /// Where the block is, for an error message: "`//@ level 2` block of line 30".
    fn place(&self) -> String {
        format!("{} block of line {}", self.directive(), self.line)
    }

    fn shown(&self, target: u32, flavor: Flavor) -> Shown {
        let (n, skeleton) = (self.level, flavor == Flavor::Skeleton);
        let (mut code, todos) = match self.kind {
            Kind::Level => (
                n < target || (n == target && !skeleton),
                n == target && skeleton,
            ),
            Kind::From => (n <= target, false),
            Kind::Only => (n == target, false),
            Kind::Main => (true, false),
        };
        // A skeleton is the previous solution: a range's code stays there one level longer.
        if let Some(last) = self.last {
            code &= target <= last + u32::from(skeleton);
        }
        let otherwise = !code && matches!(self.kind, Kind::Level | Kind::From);
        Shown {
            code,
            todos,
            otherwise,
        }
    }

    /// The level that introduced this block's code, when it sits at the top of the template:
    /// from the next level on, it is one of the `earlier` ones.
    fn introduced(&self) -> Option<u32> {
        match self.kind {
            Kind::Level | Kind::From => Some(self.level),
            Kind::Only | Kind::Main => None,
        }
    }

    fn has_todos(&self) -> bool {
        self.code.iter().any(|node| matches!(node, Node::Todo(_)))
    }
}

impl Template {
    /// Parses and validates `source`; `levels` are the level numbers of the ladder.
    pub fn parse(source: &str, levels: &[u32]) -> Result<Self, TemplateError> {
        parse::parse(source, levels)
    }

    /// The levels that have at least one TODO step.
    pub fn todo_levels(&self) -> &BTreeSet<u32> {
        &self.todo_levels
    }

    /// The template as one file, the skeleton or solution of level `target`, ending in one
    /// newline: no split into `main.rs` and `earlier.rs`, imports as written.
    #[cfg(test)]
    pub fn render_one(&self, target: u32, flavor: Flavor) -> String {
        render::one(&self.nodes, target, flavor)
    }

    /// The skeleton or solution of level `target` as its `main.rs` and `earlier.rs`, each with
    /// the imports it uses.
    pub fn render(&self, target: u32, flavor: Flavor) -> Rendered {
        let (main, earlier) = render::split(&self.nodes, target, flavor);
        imports::distribute(&main, &earlier)
    }
}
