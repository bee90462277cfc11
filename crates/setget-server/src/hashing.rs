//! The password checks' own threads. Each Argon2 check holds 19 MiB while it runs, so how many
//! run at once bounds the server's memory: a few threads (about the number of cores) take the
//! checks from a short queue, and a check that finds the queue full is answered at once with
//! 429 and `Retry-After` instead of waiting. Each thread keeps one Argon2 working memory for
//! all its checks, so the server holds at most one 19 MiB block per thread, however many
//! checks come (see `password::verify_in`).

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use setget_protocol::ErrorCode;

use crate::error::{ApiError, ApiResult};
use crate::password;

/// How many checks may wait for a thread, per thread: a full queue drains in about this many
/// check times (tens of milliseconds each).
const QUEUE_PER_THREAD: usize = 16;

/// A check, given the thread's Argon2 working memory.
type Job = Box<dyn FnOnce(&mut Vec<argon2::Block>) + Send>;

/// The pool of password-check threads; they end when it is dropped.
#[derive(Debug)]
pub(crate) struct Hashing {
    jobs: SyncSender<Job>,
}

impl Hashing {
    /// A pool of `threads` threads (at least one) with a queue of `QUEUE_PER_THREAD` each.
    pub(crate) fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let (jobs, queue) = sync_channel::<Job>(threads * QUEUE_PER_THREAD);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("password-check-{i}"))
                .spawn(move || work(&queue));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "a password-check thread could not start");
            }
        }
        Self { jobs }
    }

    /// A pool with one thread per core.
    pub(crate) fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, usize::from))
    }

    /// Whether `password` matches the PHC string `phc`, checked on the pool; without a
    /// `phc` (an unknown email) it is checked against the decoy hash, which costs the same
    /// and never matches.
    pub(crate) async fn verify(&self, password: String, phc: Option<String>) -> ApiResult<bool> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let matches = match &phc {
                Some(phc) => password::verify_in(&password, phc, memory),
                None => {
                    password::verify_in(&password, password::decoy_hash(), memory);
                    false
                }
            };
            let _ = answer.send(matches);
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(busy()),
            Err(TrySendError::Disconnected(_)) => {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "the password-check threads are gone"
                )));
            }
        }
        answered
            .await
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("a password check was dropped")))
    }
}

/// Takes checks off the queue until the pool is dropped, all in one working memory.
fn work(queue: &Mutex<Receiver<Job>>) {
    let mut memory = Vec::new();
    loop {
        let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
        match job {
            Ok(job) => job(&mut memory),
            Err(_) => return,
        }
    }
}

/// The answer when every thread is busy and the queue is full.
fn busy() -> ApiError {
    ApiError::Client {
        code: ErrorCode::TooManyAttempts,
        message: "the server is checking too many passwords at once; try again in a second"
            .to_owned(),
        retry_after: Some(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checks_run_on_the_pool_and_a_full_queue_is_told_to_retry() {
        let phc = password::hash("right").unwrap();
        let pool = Arc::new(Hashing::new(1));
        assert!(
            pool.verify("right".into(), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(
            !pool
                .verify("wrong".into(), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(!pool.verify("right".into(), None).await.unwrap());
        // One thread and a queue of 16: of 40 at once, some are refused, none fails otherwise.
        let checks: Vec<_> = (0..40)
            .map(|_| {
                let (pool, phc) = (Arc::clone(&pool), phc.clone());
                tokio::spawn(async move { pool.verify("wrong".into(), Some(phc)).await })
            })
            .collect();
        let mut refused = 0;
        for c in checks {
            match c.await.unwrap() {
                Ok(ok) => assert!(!ok),
                Err(ApiError::Client {
                    code: ErrorCode::TooManyAttempts,
                    retry_after: Some(1),
                    ..
                }) => refused += 1,
                Err(e) => panic!("{e:?}"),
            }
        }
        assert!(refused > 0 && refused <= 40 - QUEUE_PER_THREAD, "{refused}");
    }
}
