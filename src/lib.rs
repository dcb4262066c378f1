//! optlab: a laboratory for gradient-based optimizers.
//!
//! See the README and docs/guide for the command line; the library is usable on its own:
//! [`optim`] (optimizers with PyTorch's update rules), [`objective`] (2-D test functions and
//! typed expressions with exact gradients), [`experiment`] (compare and tune runs that
//! produce records), [`record`] (CSV/JSON writers) and [`plot`] (figures).

pub mod cli;
pub mod data;
pub mod experiment;
pub mod kernels;
pub mod limits;
pub mod nn;
pub mod objective;
pub mod optim;
pub mod plot;
pub mod record;
pub mod report;
pub mod schedule;
pub mod serve;
pub mod study;
