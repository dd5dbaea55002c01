//! Tenants' write jobs (DPF's asynchronous requests, issue 16): the API
//! answers `202` at once and the work runs here.
//!
//! - One subject's (a zone's, an LB domain's) jobs run in the order they
//!   came, never two at once: commits reach DNS in their order.
//! - Contracts take turns: the next job is the oldest runnable one of the
//!   contract after the one served last (round robin), so a contract with a
//!   thousand queued commits delays another contract's commit by at most one
//!   job per worker, never by its whole queue.
//! - At most `workers` jobs run together: the CPU they use (compiling,
//!   signing; on the blocking pool) and their database writes stay bounded
//!   whatever the queue's length.
//!
//! The queue knows nothing of what a job does: the API hands it a future
//! that does the work and records the outcome in the job's row. A job that
//! panics frees its subject all the same (the panic stays in its task).

use crate::supervise::ServiceCtx;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

type Work = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Whose job it is and what it changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JobKey {
    /// The contract (internal id): contracts take turns.
    pub contract: i64,
    /// What the job changes (a zone's id; an LB domain's, negated): one
    /// subject's jobs run one at a time, in order.
    pub subject: i64,
}

struct Queued {
    subject: i64,
    work: Work,
}

#[derive(Default)]
struct Sched {
    /// Each contract's jobs in arrival order.
    pending: HashMap<i64, VecDeque<Queued>>,
    /// Contracts with pending jobs, in turn order.
    turns: VecDeque<i64>,
    /// Subjects with a job running.
    busy: HashSet<i64>,
    running: usize,
    /// Jobs submitted and not finished (queued or running).
    unfinished: usize,
}

impl Sched {
    /// The next job to run: the first contract in turn with a job whose
    /// subject is free; that contract goes to the back of the line.
    fn next(&mut self) -> Option<(i64, Queued)> {
        for _ in 0..self.turns.len() {
            let contract = self.turns.pop_front()?;
            let queue = self.pending.get_mut(&contract)?;
            // The oldest job of each subject comes first in `queue`, so the
            // first job with a free subject keeps every subject's order.
            let found = queue.iter().position(|q| !self.busy.contains(&q.subject));
            let job = found.and_then(|i| queue.remove(i));
            if queue.is_empty() {
                self.pending.remove(&contract);
            } else {
                self.turns.push_back(contract);
            }
            if let Some(job) = job {
                return Some((contract, job));
            }
        }
        None
    }
}

/// The queue of write jobs; cheap to clone. [`JobQueue::run`] is the
/// service that starts them (one per process, under the supervisor).
#[derive(Clone)]
pub struct JobQueue {
    sched: Arc<Mutex<Sched>>,
    changed: Arc<Notify>,
    workers: usize,
}

/// Frees a job's subject and slot when its task ends, by return or panic.
struct Running {
    sched: Arc<Mutex<Sched>>,
    changed: Arc<Notify>,
    subject: i64,
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut s = lock(&self.sched);
        s.busy.remove(&self.subject);
        s.running -= 1;
        s.unfinished -= 1;
        drop(s);
        self.changed.notify_one();
    }
}

fn lock(m: &Mutex<Sched>) -> std::sync::MutexGuard<'_, Sched> {
    // A panic never happens while the lock is held (no user code runs under
    // it), so a poisoned lock still holds a consistent queue.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl JobQueue {
    /// A queue running at most `workers` jobs at once (at least one).
    pub fn new(workers: usize) -> JobQueue {
        JobQueue {
            sched: Arc::default(),
            changed: Arc::new(Notify::new()),
            workers: workers.max(1),
        }
    }

    /// Queues `work`; it runs after every earlier job of the same subject.
    pub fn submit(&self, key: JobKey, work: impl Future<Output = ()> + Send + 'static) {
        let mut s = lock(&self.sched);
        let queue = s.pending.entry(key.contract).or_default();
        let first = queue.is_empty();
        queue.push_back(Queued {
            subject: key.subject,
            work: Box::pin(work),
        });
        if first {
            s.turns.push_back(key.contract);
        }
        s.unfinished += 1;
        drop(s);
        self.changed.notify_one();
    }

    /// Jobs queued or running.
    pub fn unfinished(&self) -> usize {
        lock(&self.sched).unfinished
    }

    /// The service: starts jobs as workers free up. On shutdown it stops
    /// starting jobs and waits for the running ones (the supervisor's grace
    /// bounds the wait); jobs still queued are dropped, and their rows stay
    /// RUNNING until the next start fails them.
    pub async fn run(self, mut ctx: ServiceCtx) -> Result<(), std::convert::Infallible> {
        loop {
            // Registered before the queue is read: a change made after the
            // read wakes this wait.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let started = {
                let mut s = lock(&self.sched);
                if ctx.is_stopping() {
                    if s.running == 0 {
                        return Ok(());
                    }
                    None
                } else if s.running < self.workers {
                    s.next().map(|(_, job)| {
                        s.busy.insert(job.subject);
                        s.running += 1;
                        job
                    })
                } else {
                    None
                }
            };
            match started {
                Some(job) => {
                    let running = Running {
                        sched: self.sched.clone(),
                        changed: self.changed.clone(),
                        subject: job.subject,
                    };
                    let work = job.work;
                    // A job is request work, not a background loop: it ends
                    // by itself, and `running` frees its slot even when it
                    // panics (tokio keeps the panic in the task).
                    tokio::spawn(async move {
                        let _running = running;
                        work.await;
                    });
                    ctx.succeeded();
                }
                None => {
                    tokio::select! {
                        _ = &mut changed => {}
                        _ = ctx.stopping(), if !ctx.is_stopping() => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Supervisor;
    use std::time::Duration;
    use tokio::sync::mpsc;

    fn key(contract: i64, subject: i64) -> JobKey {
        JobKey { contract, subject }
    }

    #[test]
    fn contracts_take_turns_and_subjects_keep_their_order() {
        let q = JobQueue::new(1);
        // Contract 1 queues five jobs on zone 10, then contract 2 one on
        // zone 20, then contract 1 one on zone 11.
        for _ in 0..5 {
            q.submit(key(1, 10), async {});
        }
        q.submit(key(2, 20), async {});
        q.submit(key(1, 11), async {});
        let mut s = lock(&q.sched);
        let (c, j) = s.next().unwrap();
        assert_eq!((c, j.subject), (1, 10));
        s.busy.insert(10);
        // Zone 10 is busy: contract 2 is next, then contract 1's zone 11
        // (its other zone-10 jobs wait for the first).
        let (c, j) = s.next().unwrap();
        assert_eq!((c, j.subject), (2, 20));
        s.busy.insert(20);
        let (c, j) = s.next().unwrap();
        assert_eq!((c, j.subject), (1, 11));
        s.busy.insert(11);
        assert!(s.next().is_none(), "zone 10's next job waits for its first");
        s.busy.remove(&10);
        let (c, j) = s.next().unwrap();
        assert_eq!((c, j.subject), (1, 10));
    }

    #[tokio::test]
    async fn one_contracts_queue_does_not_starve_another() {
        let sup = Supervisor::default();
        let q = JobQueue::new(1);
        let runner = q.clone();
        sup.spawn("jobs", move |ctx| runner.clone().run(ctx));
        let (tx, mut rx) = mpsc::unbounded_channel();
        // Contract 1: a hundred jobs on its own zones; contract 2 then
        // queues one. It runs within the next two jobs, not after a hundred.
        for i in 0..100 {
            let tx = tx.clone();
            q.submit(key(1, i), async move {
                tokio::time::sleep(Duration::from_millis(1)).await;
                tx.send((1, i)).unwrap();
            });
        }
        let tx2 = tx.clone();
        q.submit(key(2, 1000), async move {
            tx2.send((2, 1000)).unwrap();
        });
        let mut order = Vec::new();
        while order.len() < 101 {
            order.push(rx.recv().await.unwrap());
        }
        let at = order.iter().position(|&(c, _)| c == 2).unwrap();
        assert!(at <= 2, "contract 2's job ran {at}th");
        assert_eq!(q.unfinished(), 0);
        sup.shutdown(Duration::from_secs(1)).await;
    }

    #[tokio::test]
    async fn a_subjects_jobs_run_in_order_one_at_a_time_and_a_panic_frees_it() {
        let sup = Supervisor::default();
        let q = JobQueue::new(4);
        let runner = q.clone();
        sup.spawn("jobs", move |ctx| runner.clone().run(ctx));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        q.submit(key(1, 7), async { panic!("a job that panics") });
        for i in 0..20 {
            let (tx, inside) = (tx.clone(), inside.clone());
            q.submit(key(1, 7), async move {
                let was = inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1)).await;
                inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                tx.send((i, was)).unwrap();
            });
        }
        for want in 0..20 {
            let (i, was) = rx.recv().await.unwrap();
            assert_eq!((i, was), (want, 0), "in order, alone");
        }
        sup.shutdown(Duration::from_secs(1)).await;
    }

    #[tokio::test]
    async fn shutdown_waits_for_running_jobs() {
        let sup = Supervisor::default();
        let q = JobQueue::new(2);
        let runner = q.clone();
        sup.spawn("jobs", move |ctx| runner.clone().run(ctx));
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d = done.clone();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        q.submit(key(1, 1), async move {
            started_tx.send(()).unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            d.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        started.await.unwrap();
        sup.shutdown(Duration::from_secs(5)).await;
        assert!(
            done.load(std::sync::atomic::Ordering::SeqCst),
            "the running job finished first"
        );
    }
}
