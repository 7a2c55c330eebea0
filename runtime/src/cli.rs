//! Command lines of the main job and the examples, read with lexopt: `--flag value` and
//! `--flag=value`, `-h`/`--help`, and an error in words (exit status 2) for anything else.

use std::ffi::OsString;

pub use lexopt;

use crate::data::{FASHION_MNIST_DIR, Source};

/// Reads the directory of `--fashion [DIR]` (also `--fashion=DIR`) once `parser` has returned
/// the flag: the next argument if it is not a flag, else the installed data set.
pub fn fashion(parser: &mut lexopt::Parser) -> Result<Source, lexopt::Error> {
    let dir = match parser.optional_value() {
        Some(dir) => Some(dir),
        None => parser
            .raw_args()?
            .next_if(|next| !next.to_string_lossy().starts_with('-')),
    };
    Ok(Source::FashionMnist(
        dir.map_or_else(|| FASHION_MNIST_DIR.into(), Into::into),
    ))
}

/// What the examples accept: `--fashion [DIR]` and `--help`. `Ok(None)` asks for the help.
pub fn parse_source(args: impl IntoIterator<Item = impl Into<OsString>>) -> Result<Option<Source>, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let mut source = Source::Digits;
    while let Some(arg) = parser.next()? {
        match arg {
            Long("fashion") => source = fashion(&mut parser)?,
            Short('h') | Long("help") => return Ok(None),
            other => return Err(other.unexpected()),
        }
    }
    Ok(Some(source))
}

/// What the examples without options accept: `--help` alone. `Ok(false)` asks for the help.
pub fn parse_nothing(args: impl IntoIterator<Item = impl Into<OsString>>) -> Result<bool, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    match parser.next()? {
        None => Ok(true),
        Some(Short('h') | Long("help")) => Ok(false),
        Some(other) => Err(other.unexpected()),
    }
}

/// The data set an example was asked for on its command line. `--help` prints `about` and the
/// usage and exits; anything unknown is an error on standard error and exit status 2.
pub fn example_source(about: &str) -> Source {
    let usage = format!(
        "[--fashion [DIR]]\n\n  --fashion [DIR]  Fashion-MNIST from DIR (default {FASHION_MNIST_DIR}) \
         instead of the embedded digits\n  -h, --help       this text"
    );
    answer(about, &usage, parse_source(std::env::args_os().skip(1)))
}

/// For an example without options: `--help` prints `about` and exits; any argument is an error
/// on standard error and exit status 2.
pub fn example_without_options(about: &str) {
    let parsed = parse_nothing(std::env::args_os().skip(1)).map(|run| run.then_some(()));
    answer(about, "[--help]\n\n  -h, --help  this text", parsed)
}

/// The parsed command line; or, for `Ok(None)`, `about` and the usage line (the program's name,
/// then `usage`) printed and exit status 0; or the error printed and exit status 2.
pub fn answer<V>(about: &str, usage: &str, parsed: Result<Option<V>, lexopt::Error>) -> V {
    match parsed {
        Ok(Some(value)) => value,
        Ok(None) => {
            println!("{about}\n\nusage: {} {usage}", program());
            std::process::exit(0);
        }
        Err(error) => {
            eprintln!("error: {error}; try --help");
            std::process::exit(2);
        }
    }
}

/// The program's name, for usage lines.
fn program() -> String {
    std::env::args()
        .next()
        .and_then(|path| {
            std::path::Path::new(&path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "symgrad".into())
}

#[cfg(test)]
mod tests {
    use super::{parse_nothing, parse_source};
    use crate::data::{FASHION_MNIST_DIR, Source};

    #[test]
    fn fashion_takes_its_directory_in_either_form_and_unknown_flags_are_errors() {
        let fashion = |dir: &str| Some(Source::FashionMnist(dir.into()));
        assert_eq!(parse_source(Vec::<String>::new()).unwrap(), Some(Source::Digits));
        assert_eq!(parse_source(["--fashion"]).unwrap(), fashion(FASHION_MNIST_DIR));
        assert_eq!(parse_source(["--fashion", "/d"]).unwrap(), fashion("/d"));
        assert_eq!(parse_source(["--fashion=/d"]).unwrap(), fashion("/d"));
        assert_eq!(parse_source(["--help"]).unwrap(), None);
        for bad in [&["--epochs", "3"][..], &["stray"], &["--fashion", "/d", "/e"]] {
            let error = parse_source(bad.iter().copied()).unwrap_err().to_string();
            assert!(
                error.contains("unexpected") || error.contains("invalid"),
                "{bad:?}: {error}"
            );
        }
    }

    #[test]
    fn examples_without_options_take_help_alone() {
        assert!(parse_nothing(Vec::<String>::new()).unwrap());
        assert!(!parse_nothing(["-h"]).unwrap());
        assert!(!parse_nothing(["--help"]).unwrap());
        for bad in ["--fashion", "--epochs=3", "stray"] {
            assert!(parse_nothing([bad]).is_err(), "{bad}");
        }
    }
}
