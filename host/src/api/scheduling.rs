//! Dapr's timer, reminder and deactivation routes
//! (dapr-actors-next.md §1.1), with daprd's bodies, codes and statuses:
//!
//! - `POST|PUT|GET|DELETE /v1.0/actors/{type}/{id}/reminders/{name}`
//! - `POST|PUT|DELETE /v1.0/actors/{type}/{id}/timers/{name}` (no GET, as
//!   in daprd: 405)
//! - `DELETE /v1.0/actors/{type}/{id}`: deactivate the actor now
//! - `GET /wapr/v1/reminders?type=&id=`: the reminders (and this node's
//!   timers) of a type or an actor
//!
//! A call may arrive at any node. Reminders live in the Scheduler, so a
//! node that hosts the type handles them itself (daprd's hosting rule);
//! otherwise the call goes to the actor's owner. Timers live on the node
//! that registers them, so a registration goes to the actor's owner, and a
//! delete goes to every member (the timer may sit on a former owner).
//! Deactivation goes to the owner. The owner is reached on its internal
//! port (`/wapr/v1/internal/…`, the same handlers with no routing).

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{ApiError, ApiState};
use crate::actor_key::ActorKey;
use crate::cluster::Owner;
use crate::error::{CallError, ErrorCode};
use crate::events::segment as encode;
use crate::reminders::callback::{inline_data, push_go_string};
use crate::reminders::jobs::{ReminderError, shown_ttl};
use crate::reminders::request::{decode_reminder_body, decode_timer_body};
use crate::reminders::spec::{ReminderSpec, TimerSpec, validate_schedule_name};
use crate::reminders::time::format_rfc3339_nano;

/// Header a node's internal route sets when it does not own the actor (the
/// caller re-resolves and retries).
pub const MOVED_HEADER: &str = "wapr-actor-moved";

/// How many times a routed call re-resolves after "moved".
const ROUTE_ATTEMPTS: usize = 5;

#[derive(Deserialize)]
pub(super) struct NamePath {
    pub(super) actor_type: String,
    pub(super) actor_id: String,
    pub(super) name: String,
}

#[derive(Deserialize)]
pub(super) struct ActorPath {
    actor_type: String,
    actor_id: String,
}

fn bad_name(message: String) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::BadRequest,
        format!("invalid request: {message}"),
    )
}

/// The actor and the timer's or reminder's name of a request.
fn target(
    path: Result<Path<NamePath>, PathRejection>,
    what: &'static str,
) -> Result<(ActorKey, String), ApiError> {
    let Path(path) = path.map_err(|e| ApiError::malformed(format!("invalid request path: {e}")))?;
    validate_schedule_name(what, &path.name).map_err(|e| bad_name(e.to_string()))?;
    let actor = ActorKey::parse(&path.actor_type, &path.actor_id).map_err(CallError::from)?;
    if actor.is_reserved_type() {
        return Err(CallError::ReservedType(actor.actor_type().to_string()).into());
    }
    Ok((actor, path.name))
}

fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        ApiError::new(
            e.status(),
            ErrorCode::MalformedRequest,
            format!("failed deserializing HTTP body: {e}"),
        )
    })
}

impl From<ReminderError> for ApiError {
    fn from(err: ReminderError) -> Self {
        let status =
            StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::new(status, err.code, err.message)
    }
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Where a request about `actor` runs.
enum Place {
    Here,
    Owner(std::sync::Arc<str>),
}

/// Reminders: here if this node hosts the type (any such node reaches the
/// Scheduler), else on the owner; 403 if no member hosts it.
async fn reminder_place(api: &ApiState, actor: &ActorKey) -> Result<Place, ApiError> {
    if api.router.runtime().hosts(actor.actor_type()) {
        return Ok(Place::Here);
    }
    match api.router.owner(actor).await {
        Ok(Owner::Remote { address, .. }) => Ok(Place::Owner(address)),
        Ok(Owner::Local) | Err(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::ActorReminderNonHosted,
            "operations on actor reminders are only possible on hosted actor types",
        )),
    }
}

/// `POST|PUT /v1.0/actors/{type}/{id}/reminders/{name}`: 204.
pub(super) async fn set_reminder(
    State(api): State<ApiState>,
    path: Result<Path<NamePath>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (actor, name) = target(path, "reminder name")?;
    let body = body_bytes(body)?;
    if let Place::Owner(address) = reminder_place(&api, &actor).await? {
        return proxy(
            &api,
            &address,
            Method::PUT,
            &reminder_path(&actor, &name),
            body,
        )
        .await;
    }
    set_reminder_here(&api, &actor, &name, &body).await
}

async fn set_reminder_here(
    api: &ApiState,
    actor: &ActorKey,
    name: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let body = decode_reminder_body(body)
        .map_err(|e| ApiError::malformed(format!("failed deserializing HTTP body: {e}")))?;
    let overwrite = body.overwrite.unwrap_or(true);
    let spec = ReminderSpec::from(body);
    api.scheduling
        .reminders()?
        .register(actor, name, &spec, overwrite)
        .await?;
    Ok(no_content())
}

/// The body of daprd's `GET …/reminders/{name}`.
#[derive(Serialize)]
struct ReminderBody<'a> {
    #[serde(rename = "actorID")]
    actor_id: &'a str,
    #[serde(rename = "actorType")]
    actor_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Box<RawValue>>,
    #[serde(rename = "dueTime", skip_serializing_if = "str::is_empty")]
    due_time: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    period: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<String>,
}

fn raw_data(data: Option<&Bytes>) -> Option<Box<RawValue>> {
    let inline = inline_data(data?);
    RawValue::from_string(String::from_utf8_lossy(&inline).into_owned()).ok()
}

/// `GET /v1.0/actors/{type}/{id}/reminders/{name}`: 200 with the reminder.
pub(super) async fn get_reminder(
    State(api): State<ApiState>,
    path: Result<Path<NamePath>, PathRejection>,
) -> Result<Response, ApiError> {
    let (actor, name) = target(path, "reminder name")?;
    if let Place::Owner(address) = reminder_place(&api, &actor).await? {
        return proxy(
            &api,
            &address,
            Method::GET,
            &reminder_path(&actor, &name),
            Bytes::new(),
        )
        .await;
    }
    get_reminder_here(&api, &actor, &name).await
}

async fn get_reminder_here(
    api: &ApiState,
    actor: &ActorKey,
    name: &str,
) -> Result<Response, ApiError> {
    let Some(info) = api.scheduling.reminders()?.get(actor, name).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::ActorReminderNotFound,
            format!("actor reminder not found: {name}"),
        ));
    };
    Ok(Json(ReminderBody {
        actor_id: actor.actor_id(),
        actor_type: actor.actor_type(),
        data: raw_data(info.data.as_ref()),
        due_time: &info.due_time,
        period: &info.period,
        ttl: shown_ttl(&info.ttl),
    })
    .into_response())
}

/// `DELETE /v1.0/actors/{type}/{id}/reminders/{name}`: 204, also when there
/// was none.
pub(super) async fn delete_reminder(
    State(api): State<ApiState>,
    path: Result<Path<NamePath>, PathRejection>,
) -> Result<Response, ApiError> {
    let (actor, name) = target(path, "reminder name")?;
    if let Place::Owner(address) = reminder_place(&api, &actor).await? {
        return proxy(
            &api,
            &address,
            Method::DELETE,
            &reminder_path(&actor, &name),
            Bytes::new(),
        )
        .await;
    }
    api.scheduling.reminders()?.delete(&actor, &name).await?;
    Ok(no_content())
}

fn timer_error(message: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::ActorTimerCreate,
        format!("error creating actor timer: {message}"),
    )
}

/// `POST|PUT /v1.0/actors/{type}/{id}/timers/{name}`: 204. The timer is
/// registered on the actor's owner.
pub(super) async fn set_timer(
    State(api): State<ApiState>,
    path: Result<Path<NamePath>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (actor, name) = target(path, "timer name")?;
    let body = body_bytes(body)?;
    // daprd checks the body before the actor type.
    decode_timer_body(&body)
        .map_err(|e| ApiError::malformed(format!("failed deserializing HTTP body: {e}")))?;
    for _ in 0..ROUTE_ATTEMPTS {
        let owner = api.router.owner(&actor).await.map_err(|e| match e {
            CallError::UnknownType { .. } => timer_error(format!(
                "can't create timer for actor {}||{}: actor type not registered",
                actor.actor_type(),
                actor.actor_id()
            )),
            other => ApiError::from(other),
        })?;
        match owner {
            Owner::Local => return set_timer_here(&api, &actor, &name, &body),
            Owner::Remote { address, .. } => {
                let response = proxy(
                    &api,
                    &address,
                    Method::PUT,
                    &timer_path(&actor, &name),
                    body.clone(),
                )
                .await?;
                if !response.headers().contains_key(MOVED_HEADER) {
                    return Ok(response);
                }
            }
        }
    }
    Err(CallError::Moved { actor }.into())
}

fn set_timer_here(
    api: &ApiState,
    actor: &ActorKey,
    name: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    if !api.router.runtime().hosts(actor.actor_type()) {
        return Err(timer_error(format!(
            "can't create timer for actor {}||{}: actor type not registered",
            actor.actor_type(),
            actor.actor_id()
        )));
    }
    let body = decode_timer_body(body)
        .map_err(|e| ApiError::malformed(format!("failed deserializing HTTP body: {e}")))?;
    api.scheduling
        .timers()
        .set(actor.clone(), name, TimerSpec::from(body))
        .map_err(timer_error)?;
    Ok(no_content())
}

/// `DELETE /v1.0/actors/{type}/{id}/timers/{name}`: 204 (a no-op if there is
/// none). Every member drops the timer, wherever it was registered.
pub(super) async fn delete_timer(
    State(api): State<ApiState>,
    path: Result<Path<NamePath>, PathRejection>,
) -> Result<Response, ApiError> {
    let (actor, name) = target(path, "timer name")?;
    api.scheduling.timers().delete(&actor, &name);
    if let Some(cluster) = api.router.cluster() {
        let own = cluster.settings().self_name.clone();
        let members: Vec<String> = cluster
            .table()
            .members
            .keys()
            .filter(|m| **m != own)
            .cloned()
            .collect();
        let deletes = members.into_iter().map(|member| {
            let api = api.clone();
            let path = timer_path(&actor, &name);
            async move {
                let address: std::sync::Arc<str> = std::sync::Arc::from(member.as_str());
                if let Err(err) = proxy(&api, &address, Method::DELETE, &path, Bytes::new()).await {
                    tracing::warn!(%member, error = ?err, "could not delete a timer on a member");
                }
            }
        });
        let mut tasks = tokio::task::JoinSet::new();
        for delete in deletes {
            tasks.spawn(delete);
        }
        while tasks.join_next().await.is_some() {}
    }
    Ok(no_content())
}

/// `DELETE /v1.0/actors/{type}/{id}`: deactivates the actor now (runs its
/// `deactivate`, commits, drops the instance); 200 also when it was not
/// active.
pub(super) async fn deactivate(
    State(api): State<ApiState>,
    path: Result<Path<ActorPath>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(path) = path.map_err(|e| ApiError::malformed(format!("invalid request path: {e}")))?;
    let actor = ActorKey::parse(&path.actor_type, &path.actor_id).map_err(CallError::from)?;
    api.router
        .runtime()
        .check_request(&actor)
        .or_else(|e| match e {
            // A type not hosted here may be hosted by the owner.
            CallError::UnknownType { .. } if api.router.cluster().is_some() => Ok(()),
            other => Err(other),
        })?;
    for _ in 0..ROUTE_ATTEMPTS {
        match api.router.owner(&actor).await? {
            Owner::Local => {
                api.router.runtime().deactivate(&actor).await;
                return Ok(StatusCode::OK.into_response());
            }
            Owner::Remote { address, .. } => {
                let response = proxy(
                    &api,
                    &address,
                    Method::DELETE,
                    &actor_path(&actor),
                    Bytes::new(),
                )
                .await?;
                if !response.headers().contains_key(MOVED_HEADER) {
                    return Ok(response);
                }
            }
        }
    }
    Err(CallError::Moved { actor }.into())
}

/// Query of `GET /wapr/v1/reminders`.
#[derive(Deserialize)]
pub(super) struct ListQuery {
    #[serde(rename = "type")]
    actor_type: String,
    id: Option<String>,
}

/// `GET /wapr/v1/reminders?type=T[&id=I]`: the reminders of a type or an
/// actor in the shape of Dapr 1.17's `ListActorRemindersResponse`
/// (`{"reminders":[{"name","reminder":{…}}]}`, data inlined as in `GET`),
/// with what wapr's Scheduler knows of each (`fired`, `nextFire`), and the
/// timers this node holds (`timers`).
pub(super) async fn list(
    State(api): State<ApiState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::malformed(format!("invalid query: {e}")))?;
    crate::actor_key::validate_name(
        "actor type",
        &query.actor_type,
        crate::actor_key::MAX_TYPE_LEN,
    )
    .map_err(CallError::from)?;
    if let Some(id) = &query.id {
        ActorKey::parse(&query.actor_type, id).map_err(CallError::from)?;
    }
    let reminders = api
        .scheduling
        .reminders()?
        .list(&query.actor_type, query.id.as_deref())
        .await?;
    let timers = api
        .scheduling
        .timers()
        .list(Some(&query.actor_type), query.id.as_deref());
    let mut body = String::from("{\"reminders\":[");
    for (i, r) in reminders.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str("{\"name\":");
        push_go_string(&mut body, &r.name);
        body.push_str(",\"reminder\":");
        let reminder = ReminderBody {
            actor_id: r.actor.actor_id(),
            actor_type: r.actor.actor_type(),
            data: raw_data(r.data.as_ref()),
            due_time: &r.due_time,
            period: &r.period,
            ttl: None,
        };
        body.push_str(&serde_json::to_string(&reminder).unwrap_or_default());
        if let Some(fired) = r.fired {
            body.push_str(&format!(",\"fired\":{fired}"));
        }
        if let Some(next) = r.next_fire {
            body.push_str(",\"nextFire\":");
            push_go_string(&mut body, &format_rfc3339_nano(next));
        }
        body.push('}');
    }
    body.push_str("],\"timers\":[");
    for (i, t) in timers.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str("{\"name\":");
        push_go_string(&mut body, &t.name);
        body.push_str(",\"actorType\":");
        push_go_string(&mut body, t.actor.actor_type());
        body.push_str(",\"actorID\":");
        push_go_string(&mut body, t.actor.actor_id());
        for (key, value) in [
            ("dueTime", &t.spec.due_time),
            ("period", &t.spec.period),
            ("ttl", &t.spec.ttl),
            ("callback", &t.spec.callback),
        ] {
            if !value.is_empty() {
                body.push_str(&format!(",\"{key}\":"));
                push_go_string(&mut body, value);
            }
        }
        if let Some(data) = &t.spec.data {
            body.push_str(",\"data\":");
            body.push_str(&String::from_utf8_lossy(&inline_data(data)));
        }
        body.push_str(&format!(",\"fired\":{}", t.fired));
        if let Some(next) = t.next_fire {
            body.push_str(",\"nextFire\":");
            push_go_string(&mut body, &format_rfc3339_nano(next));
        }
        body.push('}');
    }
    body.push_str("]}");
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

fn actor_path(actor: &ActorKey) -> String {
    format!(
        "/wapr/v1/internal/actors/{}/{}",
        encode(actor.actor_type()),
        encode(actor.actor_id())
    )
}

fn reminder_path(actor: &ActorKey, name: &str) -> String {
    format!("{}/reminders/{}", actor_path(actor), encode(name))
}

fn timer_path(actor: &ActorKey, name: &str) -> String {
    format!("{}/timers/{}", actor_path(actor), encode(name))
}

/// Sends a request to a member's internal port and hands back its answer.
async fn proxy(
    api: &ApiState,
    address: &str,
    method: Method,
    path: &str,
    body: Bytes,
) -> Result<Response, ApiError> {
    let sent = api
        .peers
        .send(method, address, path, body)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ActorInvokeMethod,
                format!("cannot reach node {address}: {e}"),
            )
        })?;
    let status = StatusCode::from_u16(sent.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let moved = sent.headers.contains_key(MOVED_HEADER);
    let content_type = sent.headers.get(header::CONTENT_TYPE).cloned();
    let bytes = sent.body;
    let mut response = Response::builder().status(status);
    if let Some(content_type) = content_type
        && let Ok(value) = axum::http::HeaderValue::from_bytes(content_type.as_bytes())
    {
        response = response.header(header::CONTENT_TYPE, value);
    }
    if moved {
        response = response.header(MOVED_HEADER, "1");
    }
    response
        .body(Body::from(bytes))
        .map_err(|e| ApiError::malformed(format!("bad answer from {address}: {e}")))
}

/// The internal routes: the same operations on this node only, for
/// members that route here. Timer registration and deactivation answer
/// 409 with [`MOVED_HEADER`] when this node does not own the actor now.
pub(super) mod internal {
    use super::*;

    fn moved() -> Response {
        (StatusCode::CONFLICT, [(MOVED_HEADER, "1")], "actor moved").into_response()
    }

    fn owned(api: &ApiState, actor: &ActorKey) -> bool {
        api.router
            .cluster()
            .is_none_or(|cluster| cluster.owns_now(actor))
    }

    /// `PUT /wapr/v1/internal/actors/{type}/{id}/timers/{name}`.
    pub(in crate::api) async fn set_timer(
        State(api): State<ApiState>,
        path: Result<Path<NamePath>, PathRejection>,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<Response, ApiError> {
        let (actor, name) = target(path, "timer name")?;
        let body = body_bytes(body)?;
        if !owned(&api, &actor) {
            return Ok(moved());
        }
        set_timer_here(&api, &actor, &name, &body)
    }

    /// `DELETE /wapr/v1/internal/actors/{type}/{id}/timers/{name}`.
    pub(in crate::api) async fn delete_timer(
        State(api): State<ApiState>,
        path: Result<Path<NamePath>, PathRejection>,
    ) -> Result<Response, ApiError> {
        let (actor, name) = target(path, "timer name")?;
        api.scheduling.timers().delete(&actor, &name);
        Ok(no_content())
    }

    /// `DELETE /wapr/v1/internal/actors/{type}/{id}`.
    pub(in crate::api) async fn deactivate(
        State(api): State<ApiState>,
        path: Result<Path<ActorPath>, PathRejection>,
    ) -> Result<Response, ApiError> {
        let Path(path) =
            path.map_err(|e| ApiError::malformed(format!("invalid request path: {e}")))?;
        let actor = ActorKey::parse(&path.actor_type, &path.actor_id).map_err(CallError::from)?;
        if !owned(&api, &actor) {
            return Ok(moved());
        }
        api.router.runtime().deactivate(&actor).await;
        Ok(StatusCode::OK.into_response())
    }

    /// `PUT|GET|DELETE /wapr/v1/internal/actors/{type}/{id}/reminders/{name}`.
    pub(in crate::api) async fn reminder(
        State(api): State<ApiState>,
        method: Method,
        path: Result<Path<NamePath>, PathRejection>,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<Response, ApiError> {
        let (actor, name) = target(path, "reminder name")?;
        if !api.router.runtime().hosts(actor.actor_type()) {
            return Ok(moved());
        }
        match method {
            Method::GET => get_reminder_here(&api, &actor, &name).await,
            Method::DELETE => {
                api.scheduling.reminders()?.delete(&actor, &name).await?;
                Ok(no_content())
            }
            _ => set_reminder_here(&api, &actor, &name, &body_bytes(body)?).await,
        }
    }
}
