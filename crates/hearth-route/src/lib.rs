//! `hearth-route`: where a request is answered. Local by default; an upstream (cloud) model
//! only where the user's policy says so, never for autocomplete or embeddings, never with
//! `HEARTH_NO_CLOUD=1`, never for a request the redactor marked as one that must not leave.
//! Pure policy: a request's [`Summary`] and the [`Policy`] in, a [`Decision`] with the trace
//! of every step out, no I/O beyond reading the policy files.
//!
//! Order: `HEARTH_NO_CLOUD`, the mode, the project's standing setting (each: local, and an
//! explicit cloud ask is refused unless `on_forbidden = "local"`); the task (autocomplete and
//! embeddings local); the redactor's block; the client's explicit intent (`X-Hearth-Route:
//! local|cloud[:ALIAS]|auto`, or a `model` that is an alias); the ordered rules (first match);
//! local. A cloud route is then checked against the budget and open circuits, falling back
//! along the alias's list.
mod decide;
mod policy;
mod summary;

mod calendar;
pub use calendar::civil_date;
pub use decide::{decide, no_cloud, Conditions, Decision, Refusal, Route, Summary, Task};
pub use policy::{
    default_policy_path, Alias, Mode, OnForbidden, Policy, PolicyError, Price, Project, Redact,
    Router, Rule, Target, Upstream, UpstreamKind, When,
};
pub use summary::{summarize, task_of};

#[cfg(test)]
mod tests;
