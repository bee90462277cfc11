//! One password attempt at a time per email: the lockout check, the password check and the
//! recording of a failure are one step, so that five failures in the window mean five
//! evaluated passwords whatever the concurrency. Attempts for other emails run in parallel.
//!
//! The turns are a fair queue per email (`tokio::sync::Mutex` hands the lock over in arrival
//! order); an email's entry lives only while someone holds or awaits its turn. That orders
//! one server's attempts; a turn also holds the email's lock in the database
//! ([`Store::attempt_lock`]: an advisory lock on PostgreSQL, nothing for SQLite, which one
//! server owns), so that servers sharing a database order their attempts together.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::store::{self, AttemptLock, Store};

/// The queues of attempts, by normalised email.
#[derive(Debug, Default)]
pub(crate) struct Attempts {
    queues: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The turn of one attempt; the next attempt for the same email goes once it is dropped.
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    attempts: &'a Attempts,
    email: String,
    guard: Option<OwnedMutexGuard<()>>,
    /// The email's lock among all servers of the database, taken after this server's turn.
    everywhere: Option<AttemptLock>,
}

impl Attempts {
    /// Waits for the turn of an attempt to sign in as `email` (trimmed and in lower case here,
    /// as sign-in reads it, so that every spelling of one address shares its queue), here and
    /// then among the servers of `store`'s database.
    pub(crate) async fn turn(&self, email: &str, store: &Store) -> store::Result<Turn<'_>> {
        let email = email.trim().to_lowercase();
        let queue = {
            let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(queues.entry(email.clone()).or_default())
        };
        let guard = queue.lock_owned().await;
        let mut turn = Turn {
            attempts: self,
            email,
            guard: Some(guard),
            everywhere: None,
        };
        turn.everywhere = store.attempt_lock(&turn.email).await?;
        Ok(turn)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.queues.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        drop(self.everywhere.take());
        drop(self.guard.take());
        let mut queues = self
            .attempts
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Nobody else holds or awaits this email's turn: forget its queue.
        if queues
            .get(&self.email)
            .is_some_and(|q| Arc::strong_count(q) == 1)
        {
            queues.remove(&self.email);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_turn_per_email_in_arrival_order_and_nothing_kept_after() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let attempts = Arc::new(Attempts::default());
        let first = attempts.turn("ada@x.test", &store).await.unwrap();
        // Another email is not held up; another spelling of the same one is.
        drop(attempts.turn("bob@x.test", &store).await.unwrap());
        assert!(
            tokio::time::timeout(
                Duration::from_millis(50),
                attempts.turn(" ADA@x.test", &store)
            )
            .await
            .is_err()
        );
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for i in 0..3 {
            let (attempts, order, store) =
                (Arc::clone(&attempts), Arc::clone(&order), store.clone());
            waiting.push(tokio::spawn(async move {
                let _turn = attempts.turn("ada@x.test", &store).await.unwrap();
                order.lock().unwrap().push(i);
            }));
            // Queued one after the other.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            order.lock().unwrap().is_empty(),
            "a turn was given while held"
        );
        drop(first);
        for w in waiting {
            w.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2]);
        assert_eq!(attempts.len(), 0);
    }
}
