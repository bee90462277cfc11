//! The audit log as a transparency log: every event a leaf, checkpoints signed with the log
//! key, proofs that verify against them, and witnesses' co-signatures.

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use setget_protocol::AuditEvent;
use setget_tlog::tree::{verify_consistency, verify_inclusion};
use setget_tlog::{Checkpoint, Frontier, Hash, NoteSigner, NoteVerifier};

use crate::events::{Reader, SseEvent};
use crate::support::{
    ADMIN, ADMIN_PASSWORD, Harness, MEMBER, MEMBER_PASSWORD, OTHER_OWNER, OTHER_PASSWORD, OWNER,
    PASSWORD, get_with, with_token,
};

fn hashes(proof: &Value) -> Vec<Hash> {
    proof
        .as_array()
        .unwrap()
        .iter()
        .map(|h| B64.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
        .collect()
}

/// The checkpoint, opened with the key it names (and that key).
async fn checkpoint(h: &Harness, token: &str) -> (Checkpoint, NoteVerifier, Value) {
    let (status, _, body) = h
        .send(get_with(
            "/api/workspaces/acme/audit-log/checkpoint/",
            token,
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let key = NoteVerifier::parse(body["log_key"].as_str().unwrap()).unwrap();
    let cp = Checkpoint::open(body["checkpoint"].as_str().unwrap(), &key).unwrap();
    assert_eq!(cp.size, body["size"].as_u64().unwrap());
    (cp, key, body)
}

async fn all_events(h: &Harness, token: &str) -> Vec<AuditEvent> {
    let (status, _, body) = h
        .send(get_with(
            "/api/workspaces/acme/audit-logs/?per_page=1000",
            token,
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_value(body["results"].clone()).unwrap()
}

fn root_of(events: &[AuditEvent]) -> Hash {
    let mut f = Frontier::new();
    for e in events {
        f.push(setget_tlog::leaf::event_leaf(e));
    }
    f.root()
}

/// Some history: sign-ins and outs of every member, a failed sign-in, a policy change.
async fn traffic(h: &Harness, owner: &str) {
    for (email, password) in [(ADMIN, ADMIN_PASSWORD), (MEMBER, MEMBER_PASSWORD)] {
        let token = h.token(email, password).await;
        let (status, _, _) = h
            .send(with_token("POST", "/auth/sign-out/", &token, None))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let (status, _, _) = h.sign_in(MEMBER, "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = h
        .send(with_token(
            "PATCH",
            "/api/workspaces/acme/session-policy/",
            owner,
            Some(&json!({"inactivity_timeout": "8h"})),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn every_event_is_a_leaf_and_each_checkpoint_proves_what_came_before() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    let (first, key, _) = checkpoint(&h, &owner).await;
    assert_eq!(first.origin, "setget/acme");
    let events = all_events(&h, &owner).await;
    assert_eq!(first.size, events.len() as u64);
    assert_eq!(
        first.root,
        root_of(&events),
        "the leaves are the events as served"
    );

    traffic(&h, &owner).await;
    let (second, same_key, _) = checkpoint(&h, &owner).await;
    assert_eq!(same_key, key);
    let events = all_events(&h, &owner).await;
    assert_eq!(second.size, events.len() as u64);
    assert!(second.size >= first.size + 6, "{second:?}");
    assert_eq!(second.root, root_of(&events));

    // The second tree extends the first, and from every size before it.
    for from in 0..=second.size {
        let (status, _, body) = h
            .send(get_with(
                &format!(
                    "/api/workspaces/acme/audit-log/proof/consistency/?from={from}&to={}",
                    second.size
                ),
                &owner,
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let old_root = root_of(&events[..from as usize]);
        verify_consistency(
            from,
            second.size,
            &old_root,
            &second.root,
            &hashes(&body["proof"]),
        )
        .unwrap();
    }
    // Every event is in it, at its seq.
    for e in &events {
        let (status, _, body) = h
            .send(get_with(
                &format!(
                    "/api/workspaces/acme/audit-log/proof/inclusion/?seq={}&size={}",
                    e.seq, second.size
                ),
                &owner,
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let leaf = setget_tlog::leaf::event_leaf(e);
        let proof = hashes(&body["proof"]);
        verify_inclusion((e.seq - 1) as u64, second.size, &leaf, &proof, &second.root).unwrap();
        // An event with an edited address is not.
        let mut edited = e.clone();
        edited.ip = Some("203.0.113.66".into());
        let forged = setget_tlog::leaf::event_leaf(&edited);
        assert!(
            verify_inclusion(
                (e.seq - 1) as u64,
                second.size,
                &forged,
                &proof,
                &second.root
            )
            .is_err()
        );
    }
}

#[tokio::test]
async fn proof_requests_outside_the_log_are_refused_and_only_admins_get_them() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    let (cp, _, _) = checkpoint(&h, &owner).await;
    let n = cp.size;
    for query in [
        "proof/consistency/?from=2&to=1".to_owned(),
        format!("proof/consistency/?from=0&to={}", n + 1),
        "proof/consistency/?from=-1&to=1".to_owned(),
        "proof/consistency/?from=1".to_owned(),
        "proof/consistency/?from=x&to=1".to_owned(),
        format!("proof/inclusion/?seq=0&size={n}"),
        format!("proof/inclusion/?seq={}&size={n}", n + 1),
        format!("proof/inclusion/?seq=1&size={}", n + 1),
        "proof/inclusion/?seq=1&size=1&extra=1".to_owned(),
    ] {
        let (status, _, body) = h
            .send(get_with(
                &format!("/api/workspaces/acme/audit-log/{query}"),
                &owner,
            ))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["code"], "invalid_request", "{query}: {body}");
    }
    let member = h.token(MEMBER, MEMBER_PASSWORD).await;
    let other = h.token(OTHER_OWNER, OTHER_PASSWORD).await;
    for path in [
        "checkpoint/".to_owned(),
        "proof/consistency/?from=0&to=1".to_owned(),
        "proof/inclusion/?seq=1&size=1".to_owned(),
    ] {
        let url = format!("/api/workspaces/acme/audit-log/{path}");
        assert_eq!(
            h.send(get_with(&url, &member)).await.0,
            StatusCode::FORBIDDEN,
            "{url}"
        );
        assert_eq!(
            h.send(get_with(&url, &other)).await.0,
            StatusCode::NOT_FOUND,
            "{url}"
        );
    }
}

#[tokio::test]
async fn a_witness_co_signature_is_kept_and_listed_and_a_bad_one_changes_nothing() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    let (older, key, body) = checkpoint(&h, &owner).await;
    let older_note = body["checkpoint"].as_str().unwrap().to_owned();
    traffic(&h, &owner).await;
    let (cp, _, body) = checkpoint(&h, &owner).await;
    let note = body["checkpoint"].as_str().unwrap().to_owned();
    assert_eq!(body["witnesses"], json!([]));
    let witness = NoteSigner::generate("admin-app-owner");
    let own_key = witness.verifier().to_string();
    let post = |token: &str, key: &str, note: &str, line: &str| {
        with_token(
            "POST",
            "/api/workspaces/acme/audit-log/witness/",
            token,
            Some(&json!({"key": key, "checkpoint": note, "cosignature": line})),
        )
    };
    // Another workspace's checkpoint (signed by the same key), one the server's key did not
    // sign, a co-signature of another body or by another key, a key that is not one, a
    // line too long: refused, nothing kept.
    let other = h.token(OTHER_OWNER, OTHER_PASSWORD).await;
    let (status, _, other_cp) = h
        .send(get_with(
            "/api/workspaces/other/audit-log/checkpoint/",
            &other,
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let other_note = other_cp["checkpoint"].as_str().unwrap();
    let other_body = Checkpoint::open(other_note, &key).unwrap().body();
    let impostor = NoteSigner::generate("setget").sign(&cp.body()).unwrap();
    let stranger = NoteSigner::generate("stranger");
    let line = witness.cosign(&cp.body(), 1).unwrap();
    for (key, note, line, why) in [
        (
            own_key.clone(),
            other_note.to_owned(),
            witness.cosign(&other_body, 1).unwrap(),
            "other workspace",
        ),
        (
            own_key.clone(),
            impostor,
            line.clone(),
            "not the server's signature",
        ),
        (
            own_key.clone(),
            note.clone(),
            witness.cosign(&older.body(), 1).unwrap(),
            "other body",
        ),
        (
            own_key.clone(),
            note.clone(),
            stranger.cosign(&cp.body(), 1).unwrap(),
            "other key",
        ),
        (
            "not a key".to_owned(),
            note.clone(),
            line.clone(),
            "bad key",
        ),
        (own_key.clone(), note.clone(), "x".repeat(600), "too long"),
    ] {
        let (status, _, body) = h.send(post(&owner, &key, &note, &line)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {body}");
    }
    assert_eq!(checkpoint(&h, &owner).await.2["witnesses"], json!([]));
    let member = h.token(MEMBER, MEMBER_PASSWORD).await;
    assert_eq!(
        h.send(post(&member, &own_key, &note, &line)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        h.send(post(&other, &own_key, &note, &line)).await.0,
        StatusCode::NOT_FOUND
    );

    // The right one is kept, and listed on the checkpoint it signed, which verifies.
    let line = witness.cosign(&cp.body(), 1_775_649_600).unwrap();
    let (status, _, body) = h.send(post(&owner, &own_key, &note, &line)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let token = h.token(ADMIN, ADMIN_PASSWORD).await; // the log grows meanwhile
    let (now, _, body) = checkpoint(&h, &token).await;
    assert!(now.size > cp.size);
    let listed = &body["witnesses"][0];
    assert_eq!(listed["key"], own_key);
    assert_eq!(listed["member_email"], OWNER);
    let listed_note = listed["checkpoint"].as_str().unwrap();
    assert_eq!(Checkpoint::open(listed_note, &key).unwrap(), cp);
    assert!(listed_note.ends_with(&line));
    assert_eq!(
        witness
            .verifier()
            .check_cosignature(&cp.body(), &line)
            .unwrap(),
        1_775_649_600
    );
    // An older co-signature does not replace a newer one.
    let older_line = witness.cosign(&older.body(), 2).unwrap();
    let (status, _, _) = h
        .send(post(&owner, &own_key, &older_note, &older_line))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let body = checkpoint(&h, &token).await.2;
    assert_eq!(body["witnesses"].as_array().unwrap().len(), 1);
    let listed = Checkpoint::open(body["witnesses"][0]["checkpoint"].as_str().unwrap(), &key);
    assert_eq!(listed.unwrap().size, cp.size);

    // Another admin replaying the owner's co-signature does not take the owner's key over.
    let (status, _, _) = h.send(post(&token, &own_key, &note, &line)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let body = checkpoint(&h, &token).await.2;
    assert_eq!(body["witnesses"][0]["member_email"], OWNER);
    // A row written into the database is served as it is: the server's key signs no root of
    // the writer's choosing.
    h.database().test_execute(&format!(
        "INSERT INTO audit_witnesses
             (workspace_id, witness_key, member_id, size, root, checkpoint, cosignature, at)
         SELECT workspace_id, 'planted', member_id, size, root, 'a note nobody signed',
                cosignature, at + 1
         FROM audit_witnesses WHERE witness_key = '{own_key}'"
    ));
    let body = checkpoint(&h, &token).await.2;
    let planted = body["witnesses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["key"] == "planted")
        .unwrap();
    assert!(Checkpoint::open(planted["checkpoint"].as_str().unwrap(), &key).is_err());

    // A checkpoint the server's key signed over a root this database does not hold (another
    // copy of the log, forked) is kept as signed: every admin's app must see it.
    let forked = Checkpoint {
        root: [7; 32],
        ..cp.clone()
    };
    let forked_note = h
        .app
        .log_key()
        .sign_checkpoint("acme", forked.size, forked.root);
    let admin_witness = NoteSigner::generate("admin-app-adam");
    let line = admin_witness.cosign(&forked.body(), 3).unwrap();
    let admin_key = admin_witness.verifier().to_string();
    let (status, _, _) = h.send(post(&token, &admin_key, &forked_note, &line)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let body = checkpoint(&h, &token).await.2;
    let kept = body["witnesses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["key"] == admin_key.as_str())
        .unwrap();
    assert_eq!(
        Checkpoint::open(kept["checkpoint"].as_str().unwrap(), &key).unwrap(),
        forked
    );

    // One member's keys are capped: their eleventh replaces the one heard from longest ago.
    let mut keys = Vec::new();
    for _ in 0..11 {
        h.clock.advance(chrono::Duration::seconds(1));
        let device = NoteSigner::generate("admin-app-device");
        let line = device.cosign(&cp.body(), 5).unwrap();
        let device_key = device.verifier().to_string();
        let (status, _, _) = h.send(post(&owner, &device_key, &note, &line)).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        keys.push(device_key);
    }
    let body = checkpoint(&h, &token).await.2;
    let owners: Vec<&str> = body["witnesses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["member_email"] == OWNER)
        .map(|w| w["key"].as_str().unwrap())
        .collect();
    assert_eq!(owners.len(), 10, "{owners:?}");
    assert!(owners.contains(&keys[10].as_str()));
    assert!(!owners.contains(&own_key.as_str()) && !owners.contains(&keys[0].as_str()));
}

#[tokio::test]
async fn the_stream_sends_the_checkpoint_of_what_it_sent() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    let (_, key, _) = checkpoint(&h, &owner).await;
    let mut reader = Reader::open(&h, &owner, None).await.unwrap();
    let event = |e: SseEvent| serde_json::from_value::<AuditEvent>(e.data).unwrap();
    let mut streamed = vec![event(reader.next().await.unwrap())];
    // Caught up: the checkpoint of what was sent comes next, without an id (it moves no
    // Last-Event-ID).
    let check = |sent: &SseEvent, streamed: &[AuditEvent]| {
        assert!(sent.id.is_empty());
        let cp = Checkpoint::open(sent.data["checkpoint"].as_str().unwrap(), &key).unwrap();
        assert_eq!(cp.size, sent.data["size"].as_u64().unwrap());
        assert_eq!(cp.size, streamed.len() as u64);
        assert_eq!(cp.root, root_of(streamed));
    };
    let (sent, more) = reader.next_checkpoint().await;
    assert!(more.is_empty());
    check(&sent, &streamed);
    h.token(MEMBER, MEMBER_PASSWORD).await;
    h.token(ADMIN, ADMIN_PASSWORD).await;
    let (sent, more) = reader.next_checkpoint().await;
    streamed.extend(more.into_iter().map(event));
    assert_eq!(streamed.len(), 3);
    check(&sent, &streamed);
}

#[tokio::test]
async fn a_log_written_before_it_was_a_tree_gets_its_tree_when_opened() {
    let h = Harness::new(true).await;
    let owner = h.token(OWNER, PASSWORD).await;
    traffic(&h, &owner).await;
    let (cp, _, _) = checkpoint(&h, &owner).await;
    let ws = h
        .app
        .store()
        .test_rows("SELECT id FROM workspaces WHERE slug = $1", &["acme"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.database()
        .test_execute("UPDATE audit_events SET tree = NULL");
    let reopened = setget_server::store::Store::connect(h.database())
        .await
        .unwrap();
    let root = tokio::task::spawn_blocking(move || reopened.lock().log_root(&ws, cp.size).unwrap())
        .await
        .unwrap();
    assert_eq!(root, cp.root);
    assert_eq!(
        h.app
            .store()
            .test_count("SELECT count(*) FROM audit_events WHERE tree IS NULL", &[]),
        0
    );
}

/// The workspace `acme` with its owner, created through a dev-mode server at `url`; answers
/// the owner's token.
async fn acme_on(url: &str) -> String {
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{url}/api/_dev/workspaces/"))
        .json(&json!({"slug": "acme", "name": "Acme", "members": [
            {"email": OWNER, "password": PASSWORD, "role": "owner", "display_name": "O"}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    owner_token(url).await
}

async fn owner_token(url: &str) -> String {
    let answer = reqwest::Client::new()
        .post(format!("{url}/auth/sign-in/"))
        .json(&json!({"email": OWNER, "password": PASSWORD, "medium": "email"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    crate::binary::cookie_token(answer.headers())
}

async fn served_checkpoint(url: &str, token: &str) -> Value {
    crate::binary::get_json(
        &reqwest::Client::new(),
        &format!("{url}/api/workspaces/acme/audit-log/checkpoint/"),
        token,
    )
    .await
}

#[tokio::test]
async fn the_log_key_is_made_owner_only_beside_the_database_and_kept_across_restarts() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let db = setget_server::store::Database::Sqlite(dir.path().join("s.db"));
    let server = crate::binary::Server::start_database(&db, true, "127.0.0.1:0", &[]);
    let token = acme_on(&server.url).await;
    let first = served_checkpoint(&server.url, &token).await;
    let key_file = dir.path().join("s.db.log-key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&key_file).unwrap();
    assert!(text.starts_with("PRIVATE+KEY+setget+"));
    // Neither the database nor any answer holds the private key.
    assert!(
        !std::fs::read(dir.path().join("s.db"))
            .unwrap()
            .windows(20)
            .any(|w| text.as_bytes().windows(20).any(|k| k == w))
    );
    drop(server);
    let server = crate::binary::Server::start_database(&db, true, "127.0.0.1:0", &[]);
    let token = owner_token(&server.url).await;
    let again = served_checkpoint(&server.url, &token).await;
    assert_eq!(again["log_key"], first["log_key"]);
    let key = NoteVerifier::parse(first["log_key"].as_str().unwrap()).unwrap();
    Checkpoint::open(again["checkpoint"].as_str().unwrap(), &key).unwrap();
    // A key file that is not a key stops the server with a clear error, before it serves.
    drop(server);
    std::fs::write(&key_file, "not a key\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_setget-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("s.db"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("reading the log key"), "{stderr}");
}

#[tokio::test]
async fn a_rotated_key_is_announced_in_the_log_signed_by_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let db = setget_server::store::Database::Sqlite(path.clone());
    let server = crate::binary::Server::start_database(&db, true, "127.0.0.1:0", &[]);
    let token = acme_on(&server.url).await;
    let before = served_checkpoint(&server.url, &token).await;
    let old = NoteVerifier::parse(before["log_key"].as_str().unwrap()).unwrap();
    drop(server);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_setget-server"))
        .args(["rotate-log-key", "--db"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("in 1 workspaces"), "{said}");

    let server = crate::binary::Server::start_database(&db, true, "127.0.0.1:0", &[]);
    let token = owner_token(&server.url).await;
    let after = served_checkpoint(&server.url, &token).await;
    let new = NoteVerifier::parse(after["log_key"].as_str().unwrap()).unwrap();
    assert_ne!(new, old);
    assert_eq!(new.name(), old.name(), "the origin stays the same");
    let cp = Checkpoint::open(after["checkpoint"].as_str().unwrap(), &new).unwrap();
    assert!(Checkpoint::open(after["checkpoint"].as_str().unwrap(), &old).is_err());
    // The announcement is in the log, and only the old key's signature makes it one.
    let rotated = crate::binary::get_json(
        &reqwest::Client::new(),
        &format!(
            "{}/api/workspaces/acme/audit-logs/?event=audit_log.key_rotated",
            server.url
        ),
        &token,
    )
    .await;
    let event = &rotated["results"][0];
    assert_eq!(event["details"]["key"], after["log_key"]);
    let statement = event["details"]["statement"].as_str().unwrap();
    assert_eq!(
        setget_tlog::rotation::successor(statement, &old).unwrap(),
        new
    );
    assert!(event["seq"].as_u64().unwrap() <= cp.size);
}
