//! Printing that never panics (a closed or full stdout is ignored: the results are in the
//! files, written before anything is printed), and Ctrl-C.

use std::sync::atomic::{AtomicBool, Ordering};

/// `println!` that ignores a closed or full stdout.
macro_rules! say {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock());
    }};
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// `print!` that ignores a closed or full stdout.
macro_rules! say_raw {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = write!(out, $($t)*);
        let _ = out.flush();
    }};
}

/// `eprintln!` that ignores a closed stderr.
macro_rules! warn {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($t)*);
    }};
}

/// Set by Ctrl-C: long work stops at the next check and keeps what is complete.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// Set by [`embed`]: a host process owns Ctrl-C.
static EMBEDDED: AtomicBool = AtomicBool::new(false);

/// For a host process that owns Ctrl-C (the Python bindings, in a notebook's kernel): the
/// commands install no handler of their own, and the host sets [`STOP`] itself.
pub fn embed() {
    EMBEDDED.store(true, Ordering::SeqCst);
}

/// Installs the Ctrl-C handler (unless [`embed`]ded): the first press asks the running work to stop and keep
/// what is complete (the records and figures are still written); a second quits at once.
/// Files are written atomically, so even then no file is left half-written.
pub fn install_ctrlc() {
    if EMBEDDED.load(Ordering::SeqCst) {
        return;
    }
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            warn!("\nstopping now");
            std::process::exit(130);
        }
        warn!("\nCtrl-C: finishing the records of the completed work (press again to quit at once)");
    });
}

/// Whether Ctrl-C was pressed.
pub fn stopped() -> bool {
    STOP.load(Ordering::Relaxed)
}
