//! Recovery: getting the forum's state back from the store.
//!
//! A batch that did not land is undone: by restoring the copy taken before it
//! while nodes contend for the forum, or else by rebuilding from the store's
//! snapshot and log (copying a large forum's state for every batch cost a
//! quarter of a node's CPU, and a forum written by one node at a time never
//! needs the copy). A task whose store could not be read rebuilds before its
//! next batch.

use super::ForumTask;
use super::snapshot::read_state;
use crate::hub::state::{ForumState, ReplayError};

impl ForumTask {
    /// Undo a batch that did not land: restore the copy taken before it, or
    /// else rebuild. On a shared store the rebuild stops at the old head, so
    /// that what other nodes appended is ingested (and published) next; the
    /// embedded store has no other writer, so whatever it holds is the forum.
    /// False when the store could not be read: the task rebuilds before its
    /// next batch.
    pub(super) async fn undo_batch(&mut self, checkpoint: Option<ForumState>, head_before: u64) -> bool {
        let restored = match checkpoint {
            Some(checkpoint) => {
                self.state = checkpoint;
                Ok(())
            }
            None if self.store.shared() => self.restore_to(head_before).await,
            None => self.rebuild().await,
        };
        if let Err(err) = restored {
            tracing::warn!(forum = %self.state.forum.id, %err, "rebuild failed; will retry");
            self.needs_rebuild = true;
            return false;
        }
        true
    }

    /// Undo a batch that did not land: the state at `head` again, from the
    /// store. Not the store's head: what other nodes appended after `head`
    /// is ingested next, so that its frames are published here too.
    async fn restore_to(&mut self, head: u64) -> Result<(), ReplayError> {
        let forum_id = self.state.forum.id.clone();
        let (mut base, mut records) = read_state(self.store.as_ref(), &forum_id).await?;
        if base.as_ref().is_some_and(|b| b.head > head) {
            // Another node's snapshot is already past `head`: start from the log.
            base = None;
            records = self.store.read_after(&forum_id, 0).await?;
        }
        records.retain(|r| r.seq <= head);
        let state = match base {
            Some(base) => base.replay_tail(&records, |_, _| {})?,
            None => ForumState::replay(&records, |_, _| {})?,
        };
        if state.head != head {
            return Err(ReplayError::Gap { head: state.head, got: head });
        }
        self.state = state;
        Ok(())
    }

    /// The forum's state again, from the store's latest snapshot and log.
    pub(super) async fn rebuild(&mut self) -> Result<(), ReplayError> {
        let (base, records) = read_state(self.store.as_ref(), &self.state.forum.id).await?;
        self.state = match base {
            Some(base) => base.replay_tail(&records, |_, _| {})?,
            None => ForumState::replay(&records, |_, _| {})?,
        };
        Ok(())
    }
}
