//! The `talentcert` command.
use std::process::ExitCode;

use clap::Parser;
use talentcert::config::{Cli, Settings};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::resolve(cli.settings) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("talentcert: {err:#}");
            return ExitCode::from(2);
        }
    };
    talentcert::telemetry::init(settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("talentcert: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(talentcert::cli::run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("talentcert: {err:#}");
            ExitCode::FAILURE
        }
    }
}
