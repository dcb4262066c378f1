use clap::Parser;

fn main() {
    let cli = optlab::cli::Cli::parse();
    if let Err(e) = optlab::cli::run(cli) {
        let code = match e.downcast_ref::<optlab::cli::UsageError>() {
            Some(_) => 2,
            None => 1,
        };
        eprintln!("error: {e:#}");
        std::process::exit(code);
    }
}
