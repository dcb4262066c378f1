fn main() {
    // the kernel path first: asking for one this CPU lacks is bad input
    if let Err(e) = optlab::kernels::init() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    let cli = optlab::cli::parse();
    if let Err(e) = optlab::cli::run(cli) {
        let code = match e.downcast_ref::<optlab::cli::UsageError>() {
            Some(_) => 2,
            None => 1,
        };
        eprintln!("error: {e:#}");
        std::process::exit(code);
    }
}
