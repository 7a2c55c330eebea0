//! The helper threads behind [`crate::gemm::join`] with the `threading` feature: started once,
//! on the first join that needs one, and kept awake between tasks.
//!
//! A training step hands the helpers a task every few tens of microseconds (half of a large
//! product, half of a convolution's batch), with single-threaded kernels in between. A helper
//! that went to sleep after each task would be woken for the next one through the operating
//! system, which on a virtual machine can take as long as the task itself. So a helper spins
//! on its slot for [`SPIN`] after its last task and only then parks; a join finds it awake as
//! long as the steps keep coming.
//!
//! A join posts its second task to an idle helper's slot, runs the first on its own thread,
//! and waits (spinning) for the second before it returns, so the task may borrow from the
//! caller's stack, as scoped threads do. Where no helper is idle (every one busy, or all
//! disallowed by [`crate::gemm::threads`]), it runs both tasks itself, one after the other. A
//! panic in either task reaches the caller once both have finished.

use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long an idle helper keeps checking its slot before it parks.
const SPIN: Duration = Duration::from_millis(2);

/// A task handed to a helper: a type-erased call into the poster's stack, and what came of it.
/// Shared between the two threads by a plain pointer: `call` is only read, the rest is written
/// through atomics and a cell, the panic by the helper before `done`, read by the poster after.
struct Job {
    /// The task, its lifetime erased: [`join`] keeps it alive until `done`.
    call: *mut (dyn FnMut() + Send),
    done: AtomicBool,
    /// The task's panic, if it panicked; written by the helper before `done`.
    panic: UnsafeCell<Option<Box<dyn Any + Send>>>,
}

/// A helper thread and the slot tasks are posted to (null when it has none).
struct Helper {
    slot: AtomicPtr<Job>,
    /// The thread, once started; `None` if the operating system refused to start it.
    thread: OnceLock<Option<Thread>>,
}

/// Every helper there may be: one per core but the first (the caller's own), started when a
/// join first asks for it.
fn helpers() -> &'static [Helper] {
    static HELPERS: OnceLock<Vec<Helper>> = OnceLock::new();
    HELPERS.get_or_init(|| {
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        (1..cores)
            .map(|_| Helper {
                slot: AtomicPtr::new(ptr::null_mut()),
                thread: OnceLock::new(),
            })
            .collect()
    })
}

/// How many threads a join may use without [`crate::gemm::set_threads`]: one per core.
pub(crate) fn cores() -> usize {
    helpers().len() + 1
}

/// Posts `job` to the first idle helper among the first `allowed`, starting it if need be;
/// `false` if none was idle.
fn post(job: &Job, allowed: usize) -> bool {
    let job = ptr::from_ref(job).cast_mut();
    for helper in helpers().iter().take(allowed) {
        if helper
            .slot
            .compare_exchange(ptr::null_mut(), job, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            let thread = helper.thread.get_or_init(|| {
                let spawned = thread::Builder::new()
                    .name("symgrad-helper".into())
                    .spawn(move || serve(helper));
                spawned.ok().map(|handle| handle.thread().clone())
            });
            match thread {
                Some(thread) => {
                    thread.unpark();
                    return true;
                }
                // No thread to run it: take the job back (this helper never runs one).
                None => helper.slot.store(ptr::null_mut(), Ordering::Release),
            }
        }
    }
    false
}

/// A helper's life: run what is posted to its slot, spin for [`SPIN`] after each task, then
/// park until the next post unparks it.
fn serve(helper: &'static Helper) {
    let mut idle_since = Instant::now();
    loop {
        let job = helper.slot.load(Ordering::Acquire);
        if job.is_null() {
            if idle_since.elapsed() < SPIN {
                std::hint::spin_loop();
            } else {
                thread::park();
            }
            continue;
        }
        // SAFETY: the poster keeps the job and its task alive until `done` is set, and touches
        // neither the task nor the panic meanwhile.
        unsafe {
            let job = &*job;
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| (*job.call)()));
            if let Err(payload) = outcome {
                *job.panic.get() = Some(payload);
            }
            // The slot is freed before `done`, so that a poster that joins again as soon as
            // it sees `done` finds this helper idle; a job posted in between waits in the slot
            // until the next turn of this loop.
            helper.slot.store(ptr::null_mut(), Ordering::Release);
            job.done.store(true, Ordering::Release);
        }
        idle_since = Instant::now();
    }
}

/// `(a(), b())`, `b` on an idle helper among the first `allowed` if there is one.
pub(crate) fn join<A, B>(a: impl FnOnce() -> A, b: impl FnOnce() -> B + Send, allowed: usize) -> (A, B)
where
    B: Send,
{
    let mut b = Some(b);
    let mut b_out = None;
    let mut task = || b_out = Some((b.take().expect("a task runs once"))());
    let call: &mut (dyn FnMut() + Send) = &mut task;
    // SAFETY: only the lifetime is erased; `job` is waited for below before `task` goes away,
    // on every path (a panic of `a` included).
    let call: *mut (dyn FnMut() + Send + 'static) = unsafe { std::mem::transmute(call) };
    let job = Job {
        call,
        done: AtomicBool::new(false),
        panic: UnsafeCell::new(None),
    };
    if !post(&job, allowed) {
        let a_out = a();
        task();
        return (a_out, b_out.expect("b ran"));
    }
    let a_out = panic::catch_unwind(AssertUnwindSafe(a));
    while !job.done.load(Ordering::Acquire) {
        std::hint::spin_loop();
    }
    if let Some(payload) = job.panic.into_inner() {
        panic::resume_unwind(payload);
    }
    match a_out {
        Ok(a_out) => (a_out, b_out.expect("b ran")),
        Err(payload) => panic::resume_unwind(payload),
    }
}
