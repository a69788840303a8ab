//! The HTTP side of the server: creating a forum, and deriving the WebSocket
//! address from the server's base URL.
//!
//! Why separate: forum creation is the only admin call a client makes, and both
//! the `create` subcommand and the scenario need it with the same error
//! handling (the server's `{"error": {code, message}}` body surfaced verbatim).

use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use madang_protocol::{AgendaItemSpec, CreateForumRequest, CreateForumResponse, ErrorBody};

use crate::ServerArgs;
use crate::client::code_name;

/// `create`: make a forum and print its codes and tokens.
#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The server's admin token.
    #[arg(long, env = "MADANG_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: String,
    /// The forum's title.
    #[arg(long)]
    pub title: String,
    /// A BCP 47 language tag; the server defaults to `ko`.
    #[arg(long)]
    pub language: Option<String>,
    /// An agenda item title; repeat for more items, in order.
    #[arg(long = "item", value_name = "TITLE")]
    pub items: Vec<String>,
}

/// Run `create`: print the server's answer as pretty JSON on stdout.
pub async fn run_create(args: CreateArgs) -> Result<()> {
    let request = CreateForumRequest {
        title: args.title,
        language: args.language,
        eligibility: None,
        agenda: args.items.into_iter().map(item).collect(),
    };
    let created = create_forum(&args.server.server, &args.admin_token, &request, args.server.timeout()).await?;
    println!("{}", serde_json::to_string_pretty(&created)?);
    Ok(())
}

/// An agenda item with a title only.
pub fn item(title: String) -> AgendaItemSpec {
    AgendaItemSpec { title, description: None, timebox_secs: None }
}

/// The base URL without a trailing slash.
fn base(server: &str) -> &str {
    server.trim_end_matches('/')
}

/// `POST {server}/api/forums`; expects 201 and a [`CreateForumResponse`].
pub async fn create_forum(
    server: &str,
    admin_token: &str,
    request: &CreateForumRequest,
    timeout: Duration,
) -> Result<CreateForumResponse> {
    let url = format!("{}/api/forums", base(server));
    let http = reqwest::Client::builder().timeout(timeout).build().context("building the HTTP client")?;
    let response =
        http.post(&url).bearer_auth(admin_token).json(request).send().await.with_context(|| format!("POST {url}"))?;
    let status = response.status();
    let body = response.text().await.with_context(|| format!("reading the answer to POST {url}"))?;
    if status != reqwest::StatusCode::CREATED {
        match serde_json::from_str::<ErrorBody>(&body) {
            Ok(e) => bail!("POST {url}: {status}: {}: {}", code_name(e.error.code), e.error.message),
            Err(_) => bail!("POST {url}: {status}: {}", body.trim()),
        }
    }
    serde_json::from_str(&body).with_context(|| format!("POST {url}: 201 with an unexpected body: {body}"))
}

/// The WebSocket address of a server given by its HTTP base URL
/// (`http://host:port` → `ws://host:port/ws`). A `ws://` URL is taken as is.
pub fn ws_url(server: &str) -> Result<String> {
    let server = base(server);
    if let Some(rest) = server.strip_prefix("http://") {
        Ok(format!("ws://{rest}/ws"))
    } else if server.starts_with("ws://") {
        Ok(server.to_owned())
    } else if server.starts_with("https://") || server.starts_with("wss://") {
        bail!("{server}: TLS is not supported by this client; use http:// (e.g. behind a local proxy)")
    } else {
        bail!("{server}: expected an http:// URL such as http://127.0.0.1:8080")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_url_from_http() {
        assert_eq!(ws_url("http://127.0.0.1:8080").unwrap(), "ws://127.0.0.1:8080/ws");
        assert_eq!(ws_url("http://127.0.0.1:8080/").unwrap(), "ws://127.0.0.1:8080/ws");
        assert_eq!(ws_url("ws://h:1/ws").unwrap(), "ws://h:1/ws");
        assert!(ws_url("https://h").is_err());
        assert!(ws_url("h:1").is_err());
    }
}
