//! The organizer's ticket API: read every ticket of a forum (to print the
//! sheet again, or as CSV for a mail merge) and issue tickets in bulk.
//!
//! Only the forum's moderator token opens it. A wrong token counts against
//! the address like a wrong credential on the WebSocket, so the API cannot
//! be used to guess tokens.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use madang_protocol::{Channel, IssueTicketsRequest, TicketEntry, TicketList, TicketRange};
use serde::Deserialize;

use crate::abuse;
use crate::http::{ApiError, AppState, json_body};
use crate::hub::tickets::TicketBook;
use crate::web::origin;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/forums/{id}/tickets", get(list_tickets).post(issue_tickets))
}

#[derive(Deserialize)]
struct ListQuery {
    /// `csv` for a mail merge; JSON otherwise.
    #[serde(default)]
    format: Option<String>,
}

async fn list_tickets(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::Invalid("`format` is `json` or `csv`".into())),
    };
    let address = abuse::client_address(peer.ip(), &headers, state.ws_limits.trust_forwarded_for);
    let token = moderator_token(&state, address, &headers)?;
    let book = state.hub.ticket_book(&id, &token).await?;
    let book = refuse_wrong_token(&state, address, book)?;
    let list = TicketList { forum: id, tickets: entries(&book, &origin(&headers)?, |_| true) };
    Ok(if csv { csv_response(&list) } else { Json(list).into_response() })
}

async fn issue_tickets(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers().clone();
    let address = abuse::client_address(peer.ip(), &headers, state.ws_limits.trust_forwarded_for);
    let token = moderator_token(&state, address, &headers)?;
    // The token is checked before the body is read.
    let book = state.hub.ticket_book(&id, &token).await?;
    refuse_wrong_token(&state, address, book)?;
    let body: IssueTicketsRequest = json_body(request, &state).await?;
    let issued = state.hub.issue_tickets(&id, &token, body.channel, body.count).await?;
    let (range, book) = refuse_wrong_token(&state, address, issued)?;
    let TicketRange { first, count } = range;
    let last = first.saturating_add(count);
    let list = TicketList { forum: id, tickets: entries(&book, &origin(&headers)?, |n| (first..last).contains(&n)) };
    Ok((StatusCode::CREATED, Json(list)).into_response())
}

/// The bearer token, from an address not locked out for wrong credentials.
fn moderator_token(state: &AppState, address: IpAddr, headers: &HeaderMap) -> Result<String, ApiError> {
    state.hub.addresses().check_locked_out(address).map_err(|r| ApiError::TooManyRequests(r.to_string()))?;
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty() && t.len() <= 256)
        .ok_or(ApiError::NotModerator)
}

/// `None` from the hub means the token is not this forum's moderator token.
fn refuse_wrong_token<T>(state: &AppState, address: IpAddr, answer: Option<T>) -> Result<T, ApiError> {
    answer.ok_or_else(|| {
        state.hub.addresses().failed(address);
        ApiError::NotModerator
    })
}

fn entries(book: &TicketBook, origin: &str, wanted: impl Fn(u32) -> bool) -> Vec<TicketEntry> {
    book.tickets
        .iter()
        .filter(|(number, ..)| wanted(*number))
        .map(|&(ticket, channel, status)| {
            let code = book.key.code(ticket, channel);
            let join_code = match channel {
                Channel::Hall => &book.hall_code,
                _ => &book.remote_code,
            };
            let join_url = format!("{origin}/j/{join_code}?ticket={code}");
            TicketEntry { ticket, channel, code, status, join_url }
        })
        .collect()
}

/// Every field is a number, a fixed word, a code of letters, digits and
/// dashes, or a URL built from a checked `Host`: none can hold a comma, a
/// quote or a line break, so no field needs quoting.
fn csv_response(list: &TicketList) -> Response {
    let mut body = String::from("ticket,channel,code,status,join_url\n");
    for t in &list.tickets {
        let channel = if t.channel == Channel::Hall { "hall" } else { "remote" };
        let status = serde_json::to_value(t.status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        body.push_str(&format!("{},{channel},{},{status},{}\n", t.ticket, t.code, t.join_url));
    }
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    let disposition = format!("attachment; filename=\"tickets-{}.csv\"", list.forum);
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
