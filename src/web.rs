//! The web pages: the organizer landing (`/`, served by `http.rs`), the
//! moderator console, the projector display and the participant page, their
//! assets, and join QR codes.
//!
//! Everything under `web/` is embedded in the binary at compile time, so
//! `madang serve` needs nothing else: no CDN, no internet. The pages are plain
//! HTML, CSS and ES modules; they speak the `madang.v1` WebSocket protocol.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;
use serde::Deserialize;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::http::{ApiError, AppState};

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

/// Content Security Policy of every response: only this server's own
/// scripts, styles, images and WebSocket (`'self'` covers `ws:`/`wss:` to
/// the same host in every current browser), no plugins, no `<base>`, and
/// no other site may frame a page. The pages have no inline scripts or
/// style attributes (`ui.js` styles through the DOM, which CSP allows).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
                   frame-ancestors 'none'; form-action 'self'";

/// Headers on every response, pages, assets, API answers and errors alike,
/// so that none is missed when a route is added: the CSP; `X-Frame-Options`
/// for browsers older than `frame-ancestors` (the console must not be
/// framed by another site and clicked through); `nosniff`, so an asset is
/// only ever what its `Content-Type` says; and `no-referrer`, because join
/// codes are in the path of `/j/<code>` and must not leave in `Referer`
/// (tokens are in URL fragments, which are never sent).
pub(crate) fn with_security_headers(router: Router) -> Router {
    router
        .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| page("console.html")))
        .route("/display", get(|| page("display.html")))
        .route("/join", get(|| page("join.html")))
        .route("/tickets", get(|| page("tickets.html")))
        .route("/forums/{id}/record", get(|_: Path<String>| page("record.html")))
        .route("/j/{code}", get(|_: Path<String>| page("join.html")))
        .route("/static/{*path}", get(asset))
        .route("/api/qr.svg", get(qr_svg))
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn embedded(path: &str) -> Result<Response, ApiError> {
    let file = Assets::get(path).ok_or_else(|| ApiError::NotFound("no such page or asset".into()))?;
    let mut response = file.data.into_owned().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    // Pages and assets change with the binary: revalidate every time (cheap: they are small).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..12]));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    Ok(response)
}

async fn page(name: &'static str) -> Result<Response, ApiError> {
    embedded(name)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    if path.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
        return Err(ApiError::NotFound("no such asset".into()));
    }
    let full = format!("static/{path}");
    let response = embedded(&full)?;
    if let (Some(given), Some(etag)) = (headers.get(header::IF_NONE_MATCH), response.headers().get(header::ETAG))
        && given == etag
    {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        not_modified.headers_mut().insert(header::ETAG, etag.clone());
        return Ok(not_modified);
    }
    Ok(response)
}

#[derive(Deserialize)]
struct QrQuery {
    /// A join code: the QR code encodes `<scheme>://<host>/j/<CODE>`.
    code: String,
    /// A participation ticket's code, for a ticket card: added as `?ticket=`.
    #[serde(default)]
    ticket: Option<String>,
}

/// The origin the request was made to, from `Host` (and `X-Forwarded-Proto`
/// behind a TLS proxy), so that join links work on the hall's network too.
pub(crate) fn origin(headers: &HeaderMap) -> Result<String, ApiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .ok_or_else(|| ApiError::BadRequest("a valid Host header is required".into()))?;
    let https =
        headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"));
    Ok(format!("{}://{host}", if https { "https" } else { "http" }))
}

async fn qr_svg(headers: HeaderMap, Query(query): Query<QrQuery>) -> Result<Response, ApiError> {
    let code = query.code.trim().to_ascii_uppercase();
    if !crate::hub::tokens::looks_like_join_code(&code) {
        return Err(ApiError::Invalid("`code` must be a join code".into()));
    }
    let mut link = format!("{}/j/{code}", origin(&headers)?);
    if let Some(ticket) = query.ticket {
        // The shape of a code only (it is checked when used): Crockford letters, digits and dashes.
        let ticket = ticket.trim().to_ascii_uppercase();
        if ticket.is_empty() || ticket.len() > 24 || !ticket.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(ApiError::Invalid("`ticket` must be a ticket code".into()));
        }
        link.push_str(&format!("?ticket={ticket}"));
    }
    let qr = qrcode::QrCode::with_error_correction_level(link.as_bytes(), qrcode::EcLevel::M)
        .map_err(|_| ApiError::Invalid("cannot encode this link".into()))?;
    let svg = qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(256, 256)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .quiet_zone(true)
        .build();
    let mut response = svg.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}
