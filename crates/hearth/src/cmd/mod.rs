//! One module per subcommand.
pub mod check_code;
pub mod cp;
pub mod create;
pub mod export;
pub mod fit;
pub mod import;
pub mod inspect;
pub mod list;
pub mod models;
pub mod pull;
pub mod rm;
pub mod sandbox;
pub mod scan;
pub mod sign;
pub mod verify;
pub mod show;
