//! The `bazaar-bench` binary: runs the benchmark and writes docs/PERFORMANCE.md, or (as
//! `bazaar-bench bare-http`) serves the bare handler the benchmark measures as its HTTP floor.

use anyhow::Context as _;
use bazaar_bench::{doc, results::Results, run, Cli, Helper};
use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The harness runs the binaries next to this one (target/release) unless told otherwise.
    if std::env::var_os("BAZAAR_BIN_DIR").is_none() {
        if let Some(dir) = std::env::current_exe()?.parent() {
            std::env::set_var("BAZAAR_BIN_DIR", dir);
        }
    }
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        Some(Helper::BareHttp { listen }) => runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            bazaar_bench::bare::serve(listener).await
        }),
        Some(Helper::Hold { secs, orders }) => runtime.block_on(async {
            init_tracing();
            bazaar_bench::run::hold(secs, orders).await
        }),
        None => runtime.block_on(bench(cli)),
    }
}

fn init_tracing() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "bazaar_bench=info,bazaar_client=warn".into()),
        )
        .init();
}

async fn bench(cli: Cli) -> anyhow::Result<()> {
    init_tracing();
    let config = cli.bench;
    let command = std::iter::once("bazaar-bench".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let perf_dir = config.docs_dir.join("perf");
    let latest = perf_dir.join("latest.json");
    let results: Results = if config.render_only {
        let text = std::fs::read_to_string(&latest)
            .with_context(|| format!("cannot read {}", latest.display()))?;
        serde_json::from_str(&text).with_context(|| format!("cannot parse {}", latest.display()))?
    } else {
        let results = run::run(&config, command).await?;
        run::write_json(&results, &latest)?;
        results
    };
    let baseline: Option<Results> = std::fs::read_to_string(perf_dir.join("baseline.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let document = doc::render(&results, baseline.as_ref());
    let path = config.docs_dir.join("PERFORMANCE.md");
    std::fs::write(&path, &document).with_context(|| format!("cannot write {}", path.display()))?;
    for goal in results.goals() {
        println!(
            "{:<8} {} -- {} [{}]",
            match goal.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "-",
            },
            goal.goal,
            goal.measured,
            goal.floor
        );
    }
    tracing::info!(document = %path.display(), secs = results.elapsed_secs as u64, "performance document written");
    Ok(())
}
