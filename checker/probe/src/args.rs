//! The probe's command line, read against the table of subcommands in `main.rs`: the nonce
//! first (it may come anywhere), then the subcommand's positionals and options.

/// One option of a subcommand.
pub struct Opt {
    pub flag: &'static str,
    /// What its value is called in the usage line; `None` for a switch (`--hold`).
    pub value: Option<&'static str>,
    /// It may be given more than once (`--read PATH`...).
    pub many: bool,
    /// It must be given.
    pub required: bool,
}

/// `--flag`, alone.
pub const fn switch(flag: &'static str) -> Opt {
    Opt {
        flag,
        value: None,
        many: false,
        required: false,
    }
}

/// `[--flag VALUE]`: the last one given counts.
pub const fn optional(flag: &'static str, value: &'static str) -> Opt {
    Opt {
        flag,
        value: Some(value),
        many: false,
        required: false,
    }
}

/// `[--flag VALUE]...`: every one given counts.
pub const fn many(flag: &'static str, value: &'static str) -> Opt {
    Opt {
        many: true,
        ..optional(flag, value)
    }
}

/// `--flag VALUE`, which must be given.
pub const fn required(flag: &'static str, value: &'static str) -> Opt {
    Opt {
        required: true,
        ..optional(flag, value)
    }
}

impl Opt {
    /// How the usage line shows it: `--target PATH`, `[--exit N]`, `[--read PATH]...`.
    pub fn usage(&self) -> String {
        let word = match self.value {
            Some(value) => format!("{} {value}", self.flag),
            None => self.flag.to_string(),
        };
        match (self.required, self.many) {
            (true, _) => word,
            (false, true) => format!("[{word}]..."),
            (false, false) => format!("[{word}]"),
        }
    }
}

/// Splits off `--nonce NONCE` (or `--nonce=NONCE`, anywhere before `--`) and checks it.
pub fn split_nonce(args: &[String]) -> Result<(String, Vec<String>), String> {
    let mut nonce = None;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            // Words after `--` are data, never options.
            rest.push(arg.clone());
            rest.extend(it.by_ref().cloned());
            break;
        }
        let value = if arg == "--nonce" {
            it.next().ok_or("--nonce needs a value")?.clone()
        } else if let Some(v) = arg.strip_prefix("--nonce=") {
            v.to_string()
        } else {
            rest.push(arg.clone());
            continue;
        };
        if nonce.replace(value).is_some() {
            return Err("--nonce given twice".into());
        }
    }
    let nonce = nonce.ok_or("missing --nonce NONCE")?;
    if nonce.is_empty()
        || nonce
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        return Err(format!(
            "bad nonce {nonce:?}: must be non-empty, without spaces or '/'"
        ));
    }
    Ok((nonce, rest))
}

/// A subcommand's arguments, checked against its positionals and options.
#[derive(Debug, Default)]
pub struct Args {
    positionals: Vec<String>,
    values: Vec<(&'static str, String)>,
    switches: Vec<&'static str>,
}

impl Args {
    /// Reads `args` (what follows the subcommand) for a subcommand with exactly `positionals`
    /// and `options`. Everything after `--` is left out: it is there for argv only (the checker's
    /// argv check sends words a runtime must pass on untouched: spaces, "", flags, unicode).
    pub fn parse(args: &[String], positionals: &[&str], options: &[Opt]) -> Result<Args, String> {
        let mut parsed = Args::default();
        let mut it = args.iter().take_while(|a| *a != "--");
        while let Some(arg) = it.next() {
            match options.iter().find(|o| o.flag == arg) {
                Some(Opt {
                    flag,
                    value: Some(_),
                    ..
                }) => {
                    let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
                    parsed.values.push((flag, value.clone()));
                }
                Some(opt) => parsed.switches.push(opt.flag),
                None if arg.starts_with("--") => return Err(format!("unknown option {arg:?}")),
                None => parsed.positionals.push(arg.clone()),
            }
        }
        if parsed.positionals.len() != positionals.len() {
            return Err(format!(
                "expected arguments [{}], got {:?}",
                positionals.join(" "),
                parsed.positionals
            ));
        }
        if let Some(missing) = options
            .iter()
            .find(|o| o.required && parsed.last(o.flag).is_none())
        {
            return Err(format!("missing {}", missing.usage()));
        }
        Ok(parsed)
    }

    /// The positional at `index` (their number is checked by [`Args::parse`]).
    pub fn positional(&self, index: usize) -> &str {
        self.positionals.get(index).map_or("", String::as_str)
    }

    /// Every value given to `flag`, in order.
    pub fn all(&self, flag: &str) -> Vec<String> {
        self.values
            .iter()
            .filter(|(f, _)| *f == flag)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The last value given to `flag`.
    pub fn last(&self, flag: &str) -> Option<String> {
        self.all(flag).pop()
    }

    pub fn has(&self, switch: &str) -> bool {
        self.switches.contains(&switch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn the_nonce_is_found_anywhere_before_the_double_dash() {
        let (nonce, rest) = split_nonce(&words("report --nonce n1 --hold")).unwrap();
        assert_eq!((nonce.as_str(), rest), ("n1", words("report --hold")));
        let (nonce, rest) = split_nonce(&words("--nonce=n2 exit 3 -- --nonce x")).unwrap();
        assert_eq!((nonce.as_str(), rest), ("n2", words("exit 3 -- --nonce x")));
    }

    #[test]
    fn a_missing_twice_given_or_bad_nonce_is_refused() {
        let err = |text: &str| split_nonce(&words(text)).unwrap_err();
        assert_eq!(err("report"), "missing --nonce NONCE");
        assert_eq!(err("report --nonce"), "--nonce needs a value");
        assert_eq!(err("--nonce a report --nonce b"), "--nonce given twice");
        assert!(err("report --nonce a/b").starts_with("bad nonce"));
        assert!(split_nonce(&["--nonce".into(), "a b".into()])
            .unwrap_err()
            .starts_with("bad nonce"));
    }

    #[test]
    fn options_switches_and_positionals_are_told_apart() {
        let options = [
            many("--read", "PATH"),
            switch("--hold"),
            optional("--exit", "N"),
        ];
        let args = Args::parse(
            &words("P --read /a --hold --read /b --exit 1 --exit 2"),
            &["PATH"],
            &options,
        )
        .unwrap();
        assert_eq!(args.positional(0), "P");
        assert_eq!(args.all("--read"), ["/a", "/b"]);
        assert_eq!(args.last("--exit").as_deref(), Some("2"));
        assert!(args.has("--hold"));
        assert_eq!(args.last("--missing"), None);
    }

    #[test]
    fn words_after_the_double_dash_are_not_read() {
        let args = Args::parse(&words("-- --hold x"), &[], &[switch("--hold")]).unwrap();
        assert!(!args.has("--hold"));
    }

    #[test]
    fn wrong_arguments_are_refused_with_what_was_expected() {
        let err = |text: &str, positionals: &[&str], options: &[Opt]| {
            Args::parse(&words(text), positionals, options).unwrap_err()
        };
        assert_eq!(
            err("a b", &["N"], &[]),
            r#"expected arguments [N], got ["a", "b"]"#
        );
        assert_eq!(err("", &["N"], &[]), "expected arguments [N], got []");
        assert_eq!(err("--nope", &[], &[]), r#"unknown option "--nope""#);
        assert_eq!(
            err("--exit", &[], &[optional("--exit", "N")]),
            "--exit needs a value"
        );
        assert_eq!(
            err("", &[], &[required("--target", "PATH")]),
            "missing --target PATH"
        );
    }

    #[test]
    fn the_usage_shows_what_is_optional_and_what_repeats() {
        assert_eq!(switch("--hold").usage(), "[--hold]");
        assert_eq!(optional("--exit", "N").usage(), "[--exit N]");
        assert_eq!(many("--read", "PATH").usage(), "[--read PATH]...");
        assert_eq!(required("--target", "PATH").usage(), "--target PATH");
    }
}
