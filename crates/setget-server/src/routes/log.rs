//! The audit log's proofs under `/api/workspaces/{slug}/audit-log/`, for owners and admins:
//! the newest signed checkpoint with the co-signatures admins' apps posted, consistency and
//! inclusion proofs, and a witness's co-signature of a checkpoint it verified.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use setget_protocol::{
    ConsistencyProof, ErrorBody, InclusionProof, LogCheckpoint, WitnessCheckpoint, WitnessRequest,
};
use setget_tlog::{Checkpoint, Hash, NoteVerifier};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::App;
use crate::auth::{Authed, require_admin};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::store::{Locked, WitnessRow};

/// The audit log's routes, documented.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(checkpoint))
        .routes(routes!(consistency))
        .routes(routes!(inclusion))
        .routes(routes!(witness))
}

/// The longest key or co-signature line a witness may post: an Ed25519 one is about 130
/// characters with a long name.
const MAX_WITNESS_TEXT: usize = 512;

fn encode(proof: &[Hash]) -> Vec<String> {
    proof.iter().map(|h| B64.encode(h)).collect()
}

/// The signed checkpoint of the workspace at its current size, and that size.
pub(crate) fn signed_checkpoint(
    app: &App,
    conn: &mut Locked<'_>,
    workspace_id: &str,
    slug: &str,
    size: u64,
) -> ApiResult<String> {
    let root = conn.log_root(workspace_id, size)?;
    Ok(app.log_key().sign_checkpoint(slug, size, root))
}

#[utoipa::path(get, path = "/api/workspaces/{slug}/audit-log/checkpoint/", tag = "admin", params(("slug" = String, Path, description = "the workspace's slug")), security(("session" = [])), responses((status = 200, description = "the newest checkpoint, signed (C2SP signed note), with the co-signatures admins' apps posted", body = LogCheckpoint), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden", body = ErrorBody), (status = 404, description = "not_found, also for another workspace's ids", body = ErrorBody)))]
async fn checkpoint(
    State(app): State<App>,
    authed: Authed,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<Json<LogCheckpoint>> {
    require_admin(&authed, &slug)?;
    let now = app.clock().now();
    let app2 = app.clone();
    app.blocking(move |store| {
        let mut conn = store.lock();
        let ws = &authed.workspace;
        conn.expire_due(&ws.id, now)?;
        let size = conn.log_size(&ws.id)?;
        let checkpoint = signed_checkpoint(&app2, &mut conn, &ws.id, &ws.slug, size)?;
        let witnesses = conn
            .witnesses(&ws.id)?
            .into_iter()
            // As kept: never signed again here, so that a row written into the database
            // cannot have this server's key sign a root of its choosing.
            .map(|w| WitnessCheckpoint {
                checkpoint: format!("{}{}", w.checkpoint, w.cosignature),
                key: w.key,
                member_email: w.member_email,
            })
            .collect();
        Ok(Json(LogCheckpoint {
            checkpoint,
            size,
            log_key: app2.log_key().verifier().to_string(),
            witnesses,
        }))
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    /// The older tree's size.
    from: u64,
    /// The newer tree's size, at most the log's.
    to: u64,
}

#[utoipa::path(get, path = "/api/workspaces/{slug}/audit-log/proof/consistency/", tag = "admin", params(("slug" = String, Path, description = "the workspace's slug"), ConsistencyQuery), security(("session" = [])), responses((status = 200, description = "the proof that the log of `from` events is a prefix of the log of `to` (RFC 6962)", body = ConsistencyProof), (status = 400, description = "invalid_request: sizes out of order or beyond the log", body = ErrorBody), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden", body = ErrorBody), (status = 404, description = "not_found, also for another workspace's ids", body = ErrorBody)))]
async fn consistency(
    State(app): State<App>,
    authed: Authed,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyProof>> {
    require_admin(&authed, &slug)?;
    app.blocking(move |store| {
        let mut conn = store.lock();
        let ws = &authed.workspace.id;
        let size = conn.log_size(ws)?;
        if q.from > q.to || q.to > size {
            return Err(ApiError::invalid_request(format!(
                "from and to must satisfy 0 <= from <= to <= {size}, the log's size"
            )));
        }
        let proof = conn.log_consistency(ws, q.from, q.to)?;
        Ok(Json(ConsistencyProof {
            from: q.from,
            to: q.to,
            proof: encode(&proof),
        }))
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct InclusionQuery {
    /// The event's seq.
    seq: i64,
    /// The tree's size, at least `seq` and at most the log's.
    size: u64,
}

#[utoipa::path(get, path = "/api/workspaces/{slug}/audit-log/proof/inclusion/", tag = "admin", params(("slug" = String, Path, description = "the workspace's slug"), InclusionQuery), security(("session" = [])), responses((status = 200, description = "the proof that event `seq` is in the log of `size` events (RFC 6962)", body = InclusionProof), (status = 400, description = "invalid_request: a seq or size beyond the log", body = ErrorBody), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden", body = ErrorBody), (status = 404, description = "not_found, also for another workspace's ids", body = ErrorBody)))]
async fn inclusion(
    State(app): State<App>,
    authed: Authed,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(q): ApiQuery<InclusionQuery>,
) -> ApiResult<Json<InclusionProof>> {
    require_admin(&authed, &slug)?;
    app.blocking(move |store| {
        let mut conn = store.lock();
        let ws = &authed.workspace.id;
        let size = conn.log_size(ws)?;
        let in_range = u64::try_from(q.seq).is_ok_and(|seq| seq >= 1 && seq <= q.size);
        if !in_range || q.size > size {
            return Err(ApiError::invalid_request(format!(
                "seq and size must satisfy 1 <= seq <= size <= {size}, the log's size"
            )));
        }
        let proof = conn.log_inclusion(ws, q.seq, q.size)?;
        Ok(Json(InclusionProof {
            seq: q.seq,
            size: q.size,
            proof: encode(&proof),
        }))
    })
    .await
}

#[utoipa::path(post, path = "/api/workspaces/{slug}/audit-log/witness/", tag = "admin", params(("slug" = String, Path, description = "the workspace's slug")), request_body = WitnessRequest, security(("session" = [])), responses((status = 204, description = "kept; the checkpoint's listing shows it"), (status = 400, description = "invalid_json or invalid_request: a malformed key, a checkpoint this server did not sign for this workspace, or a co-signature that does not verify", body = ErrorBody), (status = 401, description = "no live session (session_invalid, session_expired, reauth_required) or invalid_credentials", body = ErrorBody), (status = 403, description = "forbidden or csrf_rejected", body = ErrorBody), (status = 404, description = "not_found, also for another workspace's ids", body = ErrorBody)))]
async fn witness(
    State(app): State<App>,
    authed: Authed,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<WitnessRequest>,
) -> ApiResult<StatusCode> {
    require_admin(&authed, &slug)?;
    if body.key.len() > MAX_WITNESS_TEXT || body.cosignature.len() > MAX_WITNESS_TEXT {
        return Err(ApiError::invalid_request(
            "the key and the co-signature are at most 512 characters",
        ));
    }
    let key = NoteVerifier::parse(&body.key)
        .map_err(|e| ApiError::invalid_request(format!("the witness key: {e}")))?;
    // A checkpoint this server's key signed, for this workspace. Its root is kept as signed,
    // even when it is not this database's: a checkpoint the key signed that the database
    // does not extend is what every admin's app must see (the log was forked or rewritten).
    let checkpoint = Checkpoint::open(&body.checkpoint, &app.log_key().verifier())
        .map_err(|_| ApiError::invalid_request("the checkpoint is not one this server signed"))?;
    if checkpoint.origin != app.log_key().origin(&authed.workspace.slug) || checkpoint.size == 0 {
        return Err(ApiError::invalid_request(
            "the checkpoint is not one of this workspace's",
        ));
    }
    let line = format!("{}\n", body.cosignature.trim_end_matches('\n'));
    key.check_cosignature(&checkpoint.body(), &line)
        .map_err(|_| {
            ApiError::invalid_request("the co-signature does not verify for the checkpoint")
        })?;
    let now = app.clock().now();
    let app2 = app.clone();
    app.blocking(move |store| {
        let mut conn = store.lock();
        let ws = &authed.workspace;
        let (size, root) = (checkpoint.size, checkpoint.root);
        if size > conn.log_size(&ws.id)? || conn.log_root(&ws.id, size)? != root {
            tracing::warn!(
                workspace = %ws.slug,
                size,
                "a witness co-signed a checkpoint of this log key that this database does not hold"
            );
        }
        conn.put_witness(
            &ws.id,
            &authed.member.id,
            &WitnessRow {
                key: key.to_string(),
                member_email: authed.member.email.clone(),
                size,
                root,
                // The body this server's key signed (verified above); signed again, it is
                // the same note without whatever else the poster appended.
                checkpoint: app2.log_key().sign_checkpoint(&ws.slug, size, root),
                cosignature: line,
            },
            now,
        )?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}
