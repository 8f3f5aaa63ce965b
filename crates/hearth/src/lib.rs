//! The `hearth` command: a thin layer of argument parsing and output over the library crates.
pub mod cli;
mod cmd;
