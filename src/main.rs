fn main() {
    std::process::exit(optlab::cli::main_from(std::env::args_os()));
}
