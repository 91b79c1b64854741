//! `circlefit`: approximate images with coloured, alpha-blended circles.
//!
//! ```text
//! circlefit photo.jpg -n 200 -o photo.svg -o photo.png -o photo.gif
//! circlefit render photo.json -o big.png -s 2048
//! circlefit score photo.json photo.jpg
//! ```
//!
//! `circlefit --help` lists every option. Exit codes: 0 done, 2 bad input (one line on
//! stderr), 130 interrupted by Ctrl-C or SIGTERM (the best result so far was written).

mod args;
mod batch;
mod commands;
mod draw;
mod error;
mod fit;
mod inputs;
mod outputs;
mod progress;
mod report;
mod skip;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::FromArgMatches;

use crate::args::{Cli, Command};

/// A line on stderr (a closed stderr is not worth a panic).
pub(crate) fn log_line(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn main() -> ExitCode {
    let parsed = args::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print and succeed; usage errors print one line and exit 2.
            let code = if e.use_stderr() { 2 } else { 0 };
            if e.use_stderr() {
                let text = e.to_string();
                let first = text
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("error");
                eprintln!("{first}");
            } else {
                let _ = e.print();
            }
            return ExitCode::from(code);
        }
    };
    let outcome = match &cli.command {
        Some(Command::Render(a)) => commands::render(a).map(|()| batch::Outcome::Done),
        Some(Command::Score(a)) => commands::score(a).map(|()| batch::Outcome::Done),
        Some(Command::Fit(a)) => fit_with_ctrl_c(a),
        None => fit_with_ctrl_c(&cli.fit),
    };
    match outcome {
        Ok(batch::Outcome::Done) => ExitCode::SUCCESS,
        Ok(batch::Outcome::Interrupted) => ExitCode::from(130),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs the fits with Ctrl-C and SIGTERM (what `timeout`, service managers and container
/// runtimes send) wired to the cancel flag: the fits stop and write their best so far; a
/// second signal exits at once.
fn fit_with_ctrl_c(args: &args::FitArgs) -> Result<batch::Outcome, error::CliError> {
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
    })
    .map_err(|e| error::CliError::usage(format!("cannot install the Ctrl-C handler: {e}")))?;
    batch::run(args, &cancel)
}
