fn main() {
    // the kernel path first: asking for one this CPU lacks is bad input
    if let Err(e) = optlab::kernels::init() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    if let Err(e) = optlab::cli::check_thread_env() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    let cli = optlab::cli::parse();
    let result = optlab::cli::run(cli);
    // stopped by SIGINT, SIGTERM or SIGHUP after keeping the completed work: 128 + the
    // signal's number, as shells expect (so `optlab train ... && next` does not go on)
    if let Some(code) = optlab::cli::signal_exit_code() {
        if let Err(e) = &result {
            eprintln!("error: {e:#}");
        }
        std::process::exit(code);
    }
    if let Err(e) = result {
        let code = match e.downcast_ref::<optlab::cli::UsageError>() {
            Some(_) => 2,
            None => 1,
        };
        eprintln!("error: {e:#}");
        std::process::exit(code);
    }
}
