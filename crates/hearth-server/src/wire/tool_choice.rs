//! Tools as the protocols declare them, and the calls a client requires: one place for what
//! Anthropic's `tool_choice` (`any`, a named `tool`) and OpenAI's (`required`, a named
//! function) mean.
use serde_json::{json, Value};

use crate::grammar::Grammar;
use crate::service::error::ServiceError;

/// A tool a request offers.
pub(crate) struct Declared {
    /// The `type` the chat template sees (`function`).
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    /// The arguments' JSON schema (`null` when the client gave none).
    pub(crate) parameters: Value,
}

/// Which calls the client requires.
pub(crate) enum Force<'a> {
    /// None in particular (the model decides).
    Auto,
    /// A call of any of the tools.
    Any,
    /// A call of this tool.
    Named(&'a str),
}

/// The tools as the chat template sees them (OpenAI's function shape).
pub(crate) fn template_tools(tools: &[Declared]) -> Vec<Value> {
    tools
        .iter()
        .map(|t| {
            json!({"type": t.kind, "function": {"name": t.name,
                "description": t.description, "parameters": t.parameters}})
        })
        .collect()
}

/// The grammar that holds the output to one call of the tools `force` allows (`None` when the
/// model may answer freely); naming a tool that is not declared is an invalid request.
pub(crate) fn forced_call_grammar(
    tools: &[Declared],
    force: Force<'_>,
) -> Result<Option<String>, ServiceError> {
    let allowed: Vec<(String, Value)> = match force {
        Force::Auto => return Ok(None),
        Force::Any => tools
            .iter()
            .map(|t| (t.name.clone(), t.parameters.clone()))
            .collect(),
        Force::Named(name) => {
            let one: Vec<_> = tools
                .iter()
                .filter(|t| t.name == name)
                .map(|t| (t.name.clone(), t.parameters.clone()))
                .collect();
            if one.is_empty() {
                return Err(ServiceError::Invalid(format!(
                    "tool_choice names {name:?}, which is not among the tools"
                )));
            }
            one
        }
    };
    if allowed.is_empty() {
        return Ok(None);
    }
    Grammar::tool_call(&allowed)
        .map(|g| Some(g.to_gbnf()))
        .map_err(|e| ServiceError::Invalid(e.to_string()))
}
