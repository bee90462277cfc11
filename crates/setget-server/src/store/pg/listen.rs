//! Each server's ear on the database: a connection of its own, never a pooled one, that
//! `LISTEN`s on [`super::CHANNEL`]. Every committed change is announced there (see
//! [`super::commit`]), so a change made through another server moves this one's
//! [`News`]: its authentication cache stops trusting what it holds, and its event streams
//! look for news.
//!
//! Notifications only wake; they are not the record. One sent while this connection is down
//! is lost, so losing it makes the server distrust its caches at once (nothing cached is used
//! or kept), and it trusts them again only once it listens anew: the cache then starts empty
//! and whatever was committed meanwhile is read from the tables, which are the truth.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio_postgres::{AsyncMessage, NoTls};

use super::super::News;
use super::CHANNEL;

/// How often the listening connection is asked whether it is still there.
const PING: Duration = Duration::from_secs(2);
/// How long an answer may take before the connection counts as lost.
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest wait between two attempts to listen again.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Listens until the task is aborted, reconnecting after every loss.
pub(super) async fn run(config: tokio_postgres::Config, news: Arc<News>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        match listen(&config, &news, &mut backoff).await {
            Ok(()) => tracing::warn!("the database closed the listening connection"),
            Err(e) => tracing::warn!(error = %e, "listening to the database failed"),
        }
        news.distrust();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One listening connection, from `LISTEN` to its loss.
async fn listen(
    config: &tokio_postgres::Config,
    news: &News,
    backoff: &mut Duration,
) -> Result<(), tokio_postgres::Error> {
    let mut config = config.clone();
    // Named, so that an operator (or a test) can tell it from the pool's connections.
    config.application_name("setget-listener");
    let (client, mut connection) = config.connect(NoTls).await?;
    let (heard, mut hear) = tokio::sync::mpsc::unbounded_channel();
    // The connection's messages are read where it is driven; a notification is passed on,
    // and the channel closes when the connection ends.
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(_) = message
                && heard.send(()).is_err()
            {
                break;
            }
        }
    });
    let listened = client.batch_execute(&format!("LISTEN {CHANNEL}")).await;
    if let Err(e) = listened {
        driver.abort();
        return Err(e);
    }
    // From here every commit is announced; the cache starts anew.
    news.trust();
    *backoff = Duration::from_millis(50);
    loop {
        tokio::select! {
            note = hear.recv() => match note {
                Some(()) => news.committed(),
                None => break,
            },
            () = tokio::time::sleep(PING) => {
                let alive = tokio::time::timeout(PING_TIMEOUT, client.simple_query("SELECT 1"))
                    .await
                    .is_ok_and(|answer| answer.is_ok());
                if !alive {
                    break;
                }
            }
        }
    }
    driver.abort();
    Ok(())
}
