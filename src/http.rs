//! HTTP: the router, the forum API, health, and the WebSocket upgrade.
//!
//! Every error is JSON `{"error": {"code", "message"}}` with a fitting status.
//!
//! A request body is read only once the request is known to be allowed (the
//! admin token is an extractor that runs before the body's), and in bounded
//! time: a stranger cannot make the server wait for a body it never sends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State, WebSocketUpgrade,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use madang_protocol::{CreateForumRequest, ErrorBody, ErrorCode, ErrorDetail, MAX_FRAME_BYTES, SUBPROTOCOL};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::abuse::{self, PersonLimiter};
use crate::hub::frames::LARGEST_FRAME_BYTES;
use crate::hub::{Audience, Hub, HubError, JoinLookupError, tokens};
use crate::ws::{self, WsLimits};

/// Largest HTTP request body accepted.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) hub: Arc<Hub>,
    pub(crate) admin_token: Arc<str>,
    pub(crate) ws_limits: WsLimits,
    /// Frames per person, over all of their connections.
    pub(crate) people: Arc<PersonLimiter>,
    /// How long a request body may take to arrive, in all.
    pub(crate) body_read_timeout: Duration,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tasks: TaskTracker,
    /// Where displays' and moderators' connections run (`server::PriorityLane`);
    /// with `None`, on the main runtime like everyone's.
    pub(crate) priority_lane: Option<tokio::runtime::Handle>,
}

pub(crate) fn app(state: AppState) -> Router {
    let router = Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .merge(api(state.clone()))
        .route("/ws", get(ws_upgrade))
        .merge(crate::web::routes())
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state);
    crate::web::with_security_headers(router)
}

/// The forum API, each request counted against its address's rate.
fn api(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/forums", post(create_forum))
        .route("/api/forums/{id}", get(get_forum))
        .route("/api/forums/{id}/record", get(get_record))
        .route("/api/forums/{id}/outcomes.atom", get(forum_feed))
        .route("/api/outcomes.atom", get(server_feed))
        .route("/api/join/{code}", get(join_lookup))
        .merge(crate::ticket_api::routes())
        .route_layer(middleware::from_fn_with_state(state, limit_api_rate))
}

/// Refuse an API request past its address's rate (`abuse::AddressLimits`):
/// a public view or a code lookup wakes a forum, so one address must not be
/// able to keep a forum answering it. Checked before anything else is read.
async fn limit_api_rate(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let peer = abuse::client_address(peer.ip(), request.headers(), state.ws_limits.trust_forwarded_for);
    match state.hub.addresses().api_request(peer) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            let mut response = ApiError::TooManyRequests(refusal.to_string()).into_response();
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            response
        }
    }
}

/// What connections past the connection cap are served (`listener`): the
/// health check, so that the node can still be watched, and 503 for the rest.
pub(crate) fn overflow_app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .fallback(|| async { ApiError::Unavailable("the server is at its connection limit; try again".into()) })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("a valid admin token is required: Authorization: Bearer <token>")]
    Unauthorized,
    #[error("this forum's moderator token is required: Authorization: Bearer <token>")]
    NotModerator,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("the request body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("the request body did not arrive within {} s", .0.as_secs())]
    BodyTimeout(Duration),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal,
    #[error("this forum's stored log is damaged; it is not served until an operator repairs it")]
    ForumDamaged,
    #[error("{0}")]
    TooManyRequests(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
            ApiError::Unauthorized | ApiError::NotModerator => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::BadRequest),
            ApiError::BodyTimeout(_) => (StatusCode::REQUEST_TIMEOUT, ErrorCode::BadRequest),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Invalid),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
            ApiError::ForumDamaged => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::ForumDamaged),
            ApiError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited),
        };
        let body = ErrorBody { error: ErrorDetail { code, message: self.to_string() } };
        (status, Json(body)).into_response()
    }
}

impl From<HubError> for ApiError {
    fn from(err: HubError) -> Self {
        match err {
            HubError::Invalid(m) => ApiError::Invalid(m),
            HubError::NotFound => ApiError::NotFound("no such forum".into()),
            HubError::Damaged => ApiError::ForumDamaged,
            HubError::Unavailable | HubError::Store(_) => {
                tracing::warn!(error = %err, "request refused: store unavailable");
                ApiError::Unavailable("the forum store is unavailable; try again".into())
            }
            HubError::Replay { .. } => {
                tracing::error!(error = %err, "internal error");
                ApiError::Internal
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    }
}

async fn index() -> Html<&'static str> {
    Html(include_str!("../web/index.html"))
}

async fn healthz(State(state): State<AppState>) -> Response {
    if state.shutdown.is_cancelled() {
        let body = serde_json::json!({"status": "shutting_down"});
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    if let Some(reason) = state.hub.degraded() {
        // Commands would be refused as unavailable: take this node out of rotation until the store is back.
        let body = serde_json::json!({"status": "degraded", "reason": reason});
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    // A damaged forum is an operator's matter, not a reason to take the node out of rotation.
    let body = serde_json::json!({
        "status": "ok",
        "forums": state.hub.forum_count(),
        "damaged_forums": state.hub.damaged_count(),
    });
    Json(body).into_response()
}

/// Proof that the request carries the admin token; checked from the headers
/// alone, before any body is read.
struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        check_admin(&parts.headers, &state.admin_token).map(|()| Admin)
    }
}

/// The request's JSON body, read within the body timeout.
pub(crate) async fn json_body<T>(request: Request, state: &AppState) -> Result<T, ApiError>
where
    Json<T>: FromRequest<(), Rejection = JsonRejection>,
{
    let limit = state.body_read_timeout;
    match tokio::time::timeout(limit, Json::<T>::from_request(request, &())).await {
        Ok(body) => Ok(body?.0),
        Err(_) => Err(ApiError::BodyTimeout(limit)),
    }
}

fn check_admin(headers: &HeaderMap, admin_token: &str) -> Result<(), ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    if tokens::same_secret(given.trim(), admin_token) { Ok(()) } else { Err(ApiError::Unauthorized) }
}

async fn create_forum(State(state): State<AppState>, _: Admin, request: Request) -> Result<Response, ApiError> {
    let request: CreateForumRequest = json_body(request, &state).await?;
    let created = state.hub.create_forum(request).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn get_forum(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let view = state.hub.view(&id, Audience::Public).await?;
    Ok(Json(view).into_response())
}

/// What a join page shows before joining (SPEC §3): the forum a join code
/// belongs to. Limited per address like `auth`, since it tells whether a code
/// exists.
/// The forum's public record (protocol/RECORD.md): JSON lines, public, live
/// while the forum runs.
async fn get_record(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let record = state.hub.record(&id).await?;
    let headers = [(header::CONTENT_TYPE, "application/x-ndjson"), (header::CACHE_CONTROL, "no-cache")];
    Ok((headers, record).into_response())
}

fn atom(body: Vec<u8>) -> Response {
    let headers = [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")];
    (headers, body).into_response()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// An Atom feed of one forum's outcomes (the latest `feed::MAX_FEED_ENTRIES`), public like the record.
async fn forum_feed(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let origin = crate::web::origin(&headers)?;
    let view = state.hub.view(&id, Audience::Public).await?;
    let views = [view];
    let entries = crate::feed::latest_entries(&views);
    let forum = &views[0].forum;
    let head = crate::feed::FeedHead {
        id: crate::feed::urn_uuid(&format!("forum/{}/outcomes", forum.id)),
        title: &forum.title,
        self_url: format!("{origin}/api/forums/{}/outcomes.atom", forum.id),
        page_url: format!("{origin}/forums/{}/record", forum.id),
        language: Some(&forum.language),
        empty_updated_ms: now_ms(),
    };
    Ok(atom(crate::feed::render(&head, &entries, &origin)))
}

/// An Atom feed of the latest outcomes of every forum this server holds.
/// Forums that cannot answer now (damaged, store down) are left out.
async fn server_feed(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let origin = crate::web::origin(&headers)?;
    let mut views = Vec::new();
    for id in state.hub.forum_ids() {
        if let Ok(view) = state.hub.view(&id, Audience::Public).await {
            views.push(view);
        }
    }
    let entries = crate::feed::latest_entries(&views);
    let head = crate::feed::FeedHead {
        id: crate::feed::urn_uuid("server/outcomes"),
        title: "Madang",
        self_url: format!("{origin}/api/outcomes.atom"),
        page_url: format!("{origin}/"),
        language: None,
        empty_updated_ms: now_ms(),
    };
    Ok(atom(crate::feed::render(&head, &entries, &origin)))
}

#[derive(serde::Serialize)]
struct JoinCodeInfo {
    forum: String,
    title: String,
    language: String,
    status: madang_protocol::ForumStatus,
    channel: madang_protocol::Channel,
    eligibility: madang_protocol::Eligibility,
}

async fn join_lookup(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    let peer = abuse::client_address(peer.ip(), &headers, state.ws_limits.trust_forwarded_for);
    match state.hub.join_lookup(&code, peer).await {
        Ok((forum, channel)) => Ok(Json(JoinCodeInfo {
            forum: forum.id,
            title: forum.title,
            language: forum.language,
            status: forum.status,
            channel,
            eligibility: forum.eligibility,
        })
        .into_response()),
        Err(JoinLookupError::Limited(refusal)) => Err(ApiError::TooManyRequests(refusal.to_string())),
        Err(JoinLookupError::UnknownCode) => Err(ApiError::NotFound("no forum has this join code".into())),
        Err(JoinLookupError::Hub(err)) => Err(err.into()),
    }
}

async fn ws_upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    if !ws::origin_allowed(&headers, &state.ws_limits.allowed_origins) {
        return Err(ApiError::Forbidden("WebSocket connections are accepted from this server's own pages only".into()));
    }
    let ws = ws.protocols([SUBPROTOCOL]);
    if ws.selected_protocol().is_none() {
        return Err(ApiError::BadRequest(format!("request the WebSocket subprotocol `{SUBPROTOCOL}`")));
    }
    let peer = abuse::client_address(peer.ip(), &headers, state.ws_limits.trust_forwarded_for);
    let AppState { hub, people, ws_limits, shutdown, tasks, priority_lane, .. } = state;
    let upgrade = ws
        // Small buffers: thousands of mostly idle connections each hold them.
        // Client frames are small; a larger one grows the buffer as it comes.
        // The write buffer may grow to the largest frame the forum limits
        // allow: a frame over it would fail its write and drop the socket.
        .read_buffer_size(512)
        .write_buffer_size(8 * 1024)
        .max_write_buffer_size(LARGEST_FRAME_BYTES)
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES);
    Ok(upgrade.on_upgrade(move |socket| {
        tasks.track_future(ws::serve(socket, peer, hub, people, ws_limits, shutdown, priority_lane))
    }))
}
