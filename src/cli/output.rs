//! Printing that never panics (a closed or full stdout is ignored: the results are in the
//! files, written before anything is printed), and Ctrl-C.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

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

/// Set by SIGINT (Ctrl-C), SIGTERM or SIGHUP: long work stops at the next check and keeps
/// what is complete.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// The signal that set [`STOP`] (0 before any).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Set by [`embed`]: a host process owns Ctrl-C.
static EMBEDDED: AtomicBool = AtomicBool::new(false);

/// For a host process that owns Ctrl-C (the Python bindings, in a notebook's kernel): the
/// commands install no handler of their own, and the host sets [`STOP`] itself.
pub fn embed() {
    EMBEDDED.store(true, Ordering::SeqCst);
}

/// Installs the handler of SIGINT, SIGTERM and SIGHUP (what Ctrl-C, `kill`, `timeout`, a
/// Slurm time limit and a closed ssh session send), unless [`embed`]ded: the first asks the
/// running work to stop and keep what is complete (the records and figures are still
/// written, and the command then exits with 128 + the signal's number, 130 for SIGINT and
/// 143 for SIGTERM); a second quits at once with that code. Files are written atomically,
/// so even then no file is left half-written.
pub fn install_ctrlc() {
    if EMBEDDED.load(Ordering::SeqCst) {
        return;
    }
    install_signal_handler();
}

#[cfg(unix)]
extern "C" fn on_signal(sig: libc::c_int) {
    // only async-signal-safe calls here: atomics, write(2) and _exit(2)
    let first = !STOP.swap(true, Ordering::SeqCst);
    let _ = SIGNAL.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    let msg: &[u8] = if first {
        b"\nstopping: finishing the records of the completed work (signal again to quit at once)\n"
    } else {
        b"\nstopping now\n"
    };
    // SAFETY: write(2) on stderr with a valid buffer; _exit ends the process at once.
    unsafe {
        let _ = libc::write(2, msg.as_ptr().cast(), msg.len());
        if !first {
            libc::_exit(128 + sig);
        }
    }
}

/// See [`install_ctrlc`]; installing twice is harmless.
pub fn install_signal_handler() {
    #[cfg(unix)]
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only touches atomics and calls async-signal-safe functions.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            act.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrlc::set_handler(|| {
            if STOP.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            let _ = SIGNAL.compare_exchange(0, 2, Ordering::SeqCst, Ordering::SeqCst);
            warn!("\nstopping: finishing the records of the completed work (press again to quit at once)");
        });
    }
}

/// Whether a stopping signal arrived.
pub fn stopped() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// The exit code a command stopped by a signal ends with (128 + its number), if one was.
pub fn signal_exit_code() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(128 + s),
    }
}

/// Checks `RAYON_NUM_THREADS` (which sizes rayon's pool when no `--threads` is given) like
/// `--threads`: a whole number from 1 to the limit, or 0 for rayon's default (one per
/// core). `RAYON_NUM_THREADS=4000` made a short compare start 4,000 threads.
pub fn check_thread_env() -> Result<(), String> {
    let Some(v) = std::env::var_os("RAYON_NUM_THREADS") else { return Ok(()) };
    let text = v.to_string_lossy();
    let shown = crate::limits::shorten(&text.escape_debug().to_string(), 40);
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("RAYON_NUM_THREADS='{shown}' is not a whole number of threads"));
    }
    let n: Option<u64> = t.parse().ok();
    if n == Some(0) {
        return Ok(());
    }
    let limit = crate::limits::THREADS;
    match n {
        Some(n) if n <= limit.max => Ok(()),
        _ => Err(format!(
            "RAYON_NUM_THREADS={shown}: the limit is {} threads, as for --threads (0 or unset: one per core)",
            limit.max
        )),
    }
}
