use super::*;

const LEVELS: &[u32] = &[0, 1, 2, 3, 4];

fn parse(source: &str) -> Template {
    match Template::parse(source, LEVELS) {
        Ok(template) => template,
        Err(e) => panic!("template should parse: {e}"),
    }
}

fn solution(source: &str, level: u32) -> String {
    parse(source).render_one(level, Flavor::Solution)
}

fn skeleton(source: &str, level: u32) -> String {
    parse(source).render_one(level, Flavor::Skeleton)
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
    // TODO(level 1) step 1: unshare the mount namespace, then make mounts private.
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
    assert_eq!(skeleton(source, 0), "// TODO(level 0) step 1: a b\n");
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
    let source =
        "//@ only 2\n//! Level 2.\n//@ end\n//@ only 3\n//! Level 3.\n//@ end\n\nfn main() {}\n";
    for flavor in [Flavor::Skeleton, Flavor::Solution] {
        let template = parse(source);
        assert_eq!(template.render_one(1, flavor), "fn main() {}\n");
        assert_eq!(
            template.render_one(2, flavor),
            "//! Level 2.\n\nfn main() {}\n"
        );
        assert_eq!(
            template.render_one(3, flavor),
            "//! Level 3.\n\nfn main() {}\n"
        );
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
        assert_eq!(template.render_one(1, flavor), "use std::path;\n");
        assert_eq!(template.render_one(2, flavor), "use std::path::Path;\n");
        assert_eq!(template.render_one(3, flavor), "use std::path::Path;\n");
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

#[test]
fn a_step_s_text_wraps_at_100_columns() {
    let long = "word ".repeat(30);
    let source = format!("fn f() {{\n    //@ level 1\n    //@ todo 1: {long}\n    //@ todo more\n    x();\n    //@ end\n}}\n");
    let rendered = skeleton(&source, 1);
    let lines: Vec<&str> = rendered.lines().collect();
    assert_eq!(lines.len(), 4, "{rendered}");
    assert!(lines.iter().all(|l| l.chars().count() <= 100), "{rendered}");
    assert!(lines[1].starts_with("    // TODO(level 1) step 1: word word"));
    assert!(lines[2].starts_with("    //     word"));
    assert!(lines[2].ends_with("word more"), "{rendered}");
}

const ROUTED: &str = "\
//@ only 2
//! Level 2.
//@ end

use a::{helper, two};
use b::Three;

fn main() {
    //@ level 1
    one();
    //@ end
    //@ level 2
    //@ todo 1: call two.
    two();
    //@ end
}
//@ main
//@ level 1

fn child() {}
//@ end
//@ end
//@ level 1

fn one() -> Three { helper() }
//@ end
//@ level 2

fn two() {}
//@ end
";

#[test]
fn a_top_level_block_moves_to_earlier_after_its_level() {
    let template = parse(ROUTED);
    let two = template.render(2, Flavor::Solution);
    assert_eq!(
        two.main,
        "//! Level 2.\n\nmod earlier;\n\nuse earlier::*;\nuse a::two;\n\nfn main() {\n    one();\n    \
         two();\n}\n\nfn child() {}\n\nfn two() {}\n"
    );
    assert_eq!(
        two.earlier,
        "use a::helper;\nuse b::Three;\n\npub fn one() -> Three { helper() }\n"
    );
    let skeleton = template.render(2, Flavor::Skeleton);
    assert!(
        skeleton
            .main
            .contains("// TODO(level 2) step 1: call two.\n"),
        "{}",
        skeleton.main
    );
    assert!(!skeleton.main.contains("fn two"), "{}", skeleton.main);
    let one = template.render(1, Flavor::Solution);
    assert_eq!(one.earlier, "");
    assert!(
        one.main.contains("fn one() -> Three { helper() }"),
        "{}",
        one.main
    );
}

#[test]
fn a_range_block_shows_from_its_first_level_to_its_last() {
    let source = "//@ levels 1..=2\n//@ todo 1: a\na();\n//@ end\n//@ from 1..=2\nb();\n//@ end\n";
    let solutions: Vec<String> = LEVELS.iter().map(|&t| solution(source, t)).collect();
    assert_eq!(solutions, ["", "a();\nb();\n", "a();\nb();\n", "", ""]);
    let skeletons: Vec<String> = LEVELS.iter().map(|&t| skeleton(source, t)).collect();
    assert_eq!(
        skeletons,
        [
            "",
            "// TODO(level 1) step 1: a\nb();\n",
            "a();\nb();\n",
            "a();\nb();\n",
            ""
        ]
    );
}

#[test]
fn a_range_block_has_no_else_and_a_sound_range() {
    assert_eq!(
        error_of("//@ levels 1..=2\na();\n//@ else\nb();\n//@ end\n").line,
        3
    );
    for bad in ["//@ levels 2..=1", "//@ levels 1..2", "//@ from 1..=9"] {
        let e = error_of(&format!("{bad}\na();\n//@ end\n"));
        assert_eq!(e.line, 1, "{bad}: {e}");
    }
}

#[test]
fn main_is_only_at_the_top() {
    let e = error_of("//@ level 1\n//@ main\n//@ end\n//@ end\n");
    assert_eq!(e.line, 2);
}
