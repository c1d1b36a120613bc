//! The `cassa` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::{
    config::{Config, DatabaseArgs, DatabaseConfig, LogArgs, ServeArgs},
    db::Db,
    http,
    startup::{Application, shutdown_signal},
    telemetry,
};

/// Cassa: multi-tenant payments platform and console.
#[derive(Parser, Debug)]
#[command(name = "cassa", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(flatten)]
    log: LogArgs,
    #[command(subcommand)]
    command: Option<Command>,
    /// Settings for the default command, `serve`.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the API and console (the default).
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Print the OpenAPI document (the committed `api/openapi.json`).
    Openapi,
    /// Seed a demo store with products, customers and sandbox payments, then exit.
    Demo(Box<DemoArgs>),
}

/// Settings of `cassa demo`: the server's, plus how many payments to create.
#[derive(clap::Args, Debug)]
struct DemoArgs {
    /// Payments to create, spread over the last 30 days.
    #[arg(long, default_value_t = 300)]
    payments: usize,
    #[command(flatten)]
    serve: ServeArgs,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        print!("{}", http::openapi_json());
        return ExitCode::SUCCESS;
    }
    telemetry::init_tracing(cli.log.log_format, &cli.log.log_filter);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            None => serve(cli.serve).await,
            Some(Command::Serve(args)) => serve(*args).await,
            Some(Command::Migrate(args)) => migrate(args).await,
            Some(Command::Openapi) => Ok(()),
            Some(Command::Demo(args)) => demo(*args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "cassa failed");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::from_args(&args)?;
    if args.demo {
        crate::demo::seed(config.clone(), 300).await?;
    }
    let app = Application::build(config).await?;
    app.run_until_stopped(shutdown_signal()).await?;
    Ok(())
}

async fn migrate(args: DatabaseArgs) -> anyhow::Result<()> {
    let config = DatabaseConfig::from_args(&args)?;
    let db = Db::connect(&config).await?;
    db.migrate().await?;
    let applied = db.applied_migrations().await?;
    tracing::info!(applied, url = %config.url, "migrations applied");
    db.close().await;
    Ok(())
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let config = Config::from_args(&args.serve)?;
    if crate::demo::seed(config, args.payments).await? {
        println!(
            "Seeded \"{}\" with {} payments. Start the server (scripts/serve) and sign in as the platform admin.",
            crate::demo::DEMO_STORE,
            args.payments
        );
    } else {
        println!(
            "\"{}\" exists already; nothing to do.",
            crate::demo::DEMO_STORE
        );
    }
    Ok(())
}
