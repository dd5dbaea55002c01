//! The node's threads, made so that DNS comes first (issue 16): while a
//! tenant's large commit compiles and writes, the control plane's threads
//! (API, jobs, the store's, every service) run at a lower priority, a higher
//! nice value, than the threads that answer DNS, so the scheduler hands a DNS
//! thread a core the moment a query arrives instead of at the end of a
//! compiling thread's time slice.
//!
//! Linux keeps a nice value per thread, and a new thread inherits its
//! creator's; an unprivileged thread may raise its own nice value but never
//! lower it again (`setpriority(2)`, `RLIMIT_NICE`). So the DNS threads are
//! made first, by a thread still at the process's priority, and park until
//! the node starts and hands them their sockets; only then does the control
//! plane lower itself ([`lower_this_thread`]).

use std::io;
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Work handed to a parked thread.
type Job = Box<dyn FnOnce() + Send>;

/// A thread that waits for the one job it will run.
struct Parked {
    job: mpsc::Sender<Job>,
    handle: JoinHandle<()>,
}

impl Parked {
    fn spawn(name: String) -> io::Result<Parked> {
        let (job, rx) = mpsc::channel::<Job>();
        let handle = std::thread::Builder::new().name(name).spawn(move || {
            // A node that never starts drops the sender: the thread ends.
            if let Ok(job) = rx.recv() {
                job();
            }
        })?;
        Ok(Parked { job, handle })
    }
}

/// The threads a DNS node answers on, made before the node starts: UDP
/// workers parked until they get their sockets, and the runtime TCP is
/// answered on (one worker thread, its own blocking pool for packing zone
/// transfers).
pub struct DnsThreads {
    udp: Vec<Parked>,
    tcp: tokio::runtime::Runtime,
}

impl DnsThreads {
    /// `udp_workers` UDP threads (0: one per CPU) and the TCP runtime, at
    /// the calling thread's priority.
    pub fn spawn(udp_workers: usize) -> io::Result<DnsThreads> {
        let n = match udp_workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let udp = (0..n)
            .map(|i| Parked::spawn(format!("dns-udp-{i}")))
            .collect::<io::Result<Vec<_>>>()?;
        let tcp = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("dns-tcp")
            .enable_all()
            .build()?;
        Ok(DnsThreads { udp, tcp })
    }

    pub fn udp_workers(&self) -> usize {
        self.udp.len()
    }

    /// Starts UDP worker `i` on `work`; its handle, to join at the end.
    /// `None` when there is no such worker or it has gone.
    pub(crate) fn start_udp(&mut self, work: impl FnOnce() + Send + 'static) -> Option<JoinHandle<()>> {
        let parked = self.udp.pop()?;
        parked.job.send(Box::new(work)).ok()?;
        Some(parked.handle)
    }

    /// The runtime TCP DNS runs on.
    pub(crate) fn into_tcp(self) -> tokio::runtime::Runtime {
        self.tcp
    }
}

/// Raises the calling thread's nice value to `nice` (Linux keeps it per
/// thread; threads this one makes from now on inherit it). 0 or less
/// leaves the thread as it is: lowering a nice value needs privileges.
pub fn lower_this_thread(nice: i32) -> io::Result<()> {
    if nice <= 0 {
        return Ok(());
    }
    // SAFETY: gettid and setpriority take and return integers only; they
    // read and write no memory of this process. The `who` of PRIO_PROCESS
    // is a thread id on Linux (setpriority(2), NOTES), so only this thread
    // changes.
    let done = unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice)
    };
    match done {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// The calling thread's nice value.
pub fn nice_of_this_thread() -> io::Result<i32> {
    // SAFETY: as in `lower_this_thread`. getpriority may return -1 as a
    // value, so errno is cleared first and read after.
    unsafe {
        *libc::__errno_location() = 0;
        let nice = libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t);
        match (nice, *libc::__errno_location()) {
            (-1, e) if e != 0 => Err(io::Error::from_raw_os_error(e)),
            (nice, _) => Ok(nice),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_threads_keep_the_priority_they_were_made_at() {
        // Made by a thread at the process's priority, then that thread
        // lowers itself: the parked thread does not follow.
        let seen = std::thread::spawn(|| {
            let before = nice_of_this_thread().unwrap();
            let lowered = (before + 5).min(19);
            let mut threads = DnsThreads::spawn(1).unwrap();
            lower_this_thread(lowered).unwrap();
            assert_eq!(nice_of_this_thread().unwrap(), lowered);
            // A thread made now inherits the lowered priority.
            let child = std::thread::spawn(|| nice_of_this_thread().unwrap()).join().unwrap();
            let (tx, rx) = mpsc::channel();
            let handle = threads
                .start_udp(move || tx.send(nice_of_this_thread().unwrap()).unwrap())
                .unwrap();
            handle.join().unwrap();
            (before, lowered, rx.recv().unwrap(), child)
        })
        .join()
        .unwrap();
        let (before, lowered, dns, child) = seen;
        assert_eq!(dns, before, "the DNS thread stayed at the process's priority");
        assert_eq!(child, lowered, "a thread made after inherits the lowered one");
    }
}
