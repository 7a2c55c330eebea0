//! The main job's command line: settings that cannot work are errors in words, before any
//! training, with exit status 2 (a usage error).

use std::process::Command;

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_symgrad")).args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn impossible_settings_are_usage_errors() {
    for (args, expected) in [
        (&["--epochs", "0"][..], "--epochs must be at least 1"),
        (&["--resume"], "--resume and --overwrite need --checkpoint FILE"),
        (
            &["--checkpoint", "c.safetensors", "--resume", "--overwrite"],
            "exclude each other",
        ),
        (&["--epochs", "x"], "cannot parse argument \"x\""),
        (&["--epochs=-1"], "cannot parse argument \"-1\""),
        (&["--frobnicate"], "invalid option '--frobnicate'; try --help"),
        (&["stray"], "unexpected argument \"stray\""),
        (&["--threads", "0"], "at least one thread is needed"),
        (&["--overlap", "many"], "cannot parse argument \"many\""),
    ] {
        let (code, stderr) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(expected),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn more_threads_than_the_build_has_are_a_usage_error() {
    let (code, stderr) = run(&["--threads", "2", "--epochs", "1", "--quiet"]);
    if cfg!(feature = "threading") {
        assert_eq!(code, Some(0), "{stderr}");
    } else {
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("no `threading` feature"), "{stderr}");
    }
}

#[test]
fn flags_take_their_values_with_or_without_an_equals_sign() {
    let out = Command::new(env!("CARGO_BIN_EXE_symgrad"))
        .args(["--epochs=1", "--seed", "3", "--quiet"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("of 1;"), "{stdout}");
}

#[test]
fn an_unwritable_history_path_fails_before_training() {
    let (code, stderr) = run(&["--history", "/nonexistent-directory/h.csv", "--quiet"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("does not exist") && !stderr.contains("test accuracy"),
        "{stderr}"
    );
}
