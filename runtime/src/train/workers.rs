//! The processes a run is spread over (data parallelism): every process holds the whole data
//! set and the same parameters, computes the gradient of its share of each global mini-batch,
//! and the shares are summed with one all-reduce, weighted so that the sum is the gradient of
//! the whole batch; every process then takes the same optimiser step.
//!
//! [`Alone`] is one process; with the `mpi` feature, [`Mpi`] is the processes `mpirun`
//! started, on Open MPI (or any MPI library the `mpi` crate builds against).
//!
//! The gradients are summed in the network's own precision: an f32 network sends half the
//! bytes an f64 one does (the sum of a handful of f32 shares rounds each partial sum once
//! more than an f64 sum would, about 6·10⁻⁸ of it per addition, below what one step of
//! f32 training resolves).

use crate::error::{Error, Result};
use crate::params::Parameters;
use crate::scalar::Scalar;

/// What the trainer needs from the processes of a run.
pub trait Workers {
    /// This process's number, from 0.
    fn rank(&self) -> usize;
    /// How many processes there are.
    fn size(&self) -> usize;
    /// Replaces `values` by their elementwise sum over every process, on every process.
    fn sum(&self, values: &mut [f64]);
    /// The same in f32: half the bytes.
    fn sum_f32(&self, values: &mut [f32]);
    /// Replaces `values` by process 0's, on every process.
    fn broadcast(&self, values: &mut [f64]);
}

/// A run in one process.
#[derive(Clone, Copy, Debug, Default)]
pub struct Alone;

impl Workers for Alone {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn sum(&self, _: &mut [f64]) {}
    fn sum_f32(&self, _: &mut [f32]) {}
    fn broadcast(&self, _: &mut [f64]) {}
}

/// The element types sent between processes.
pub(super) trait Wire: Copy + PartialOrd {
    const ZERO: Self;
    fn from_f64(value: f64) -> Self;
    fn to_f64(self) -> f64;
    /// [`Workers::sum`] or [`Workers::sum_f32`].
    fn sum<W: Workers + ?Sized>(workers: &W, values: &mut [Self]);
}

impl Wire for f64 {
    const ZERO: f64 = 0.0;
    fn from_f64(value: f64) -> f64 {
        value
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn sum<W: Workers + ?Sized>(workers: &W, values: &mut [f64]) {
        workers.sum(values);
    }
}

impl Wire for f32 {
    const ZERO: f32 = 0.0;
    fn from_f64(value: f64) -> f32 {
        value as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn sum<W: Workers + ?Sized>(workers: &W, values: &mut [f32]) {
        workers.sum_f32(values);
    }
}

/// The buffers of the all-reduce, one per precision, kept between steps.
#[derive(Default)]
pub(super) struct Reduction {
    f64: Vec<f64>,
    f32: Vec<f32>,
}

/// The share of `len` items that process `rank` of `size` takes: contiguous, sizes differing by
/// at most one, in rank order.
pub fn share(len: usize, rank: usize, size: usize) -> std::ops::Range<usize> {
    len * rank / size..len * (rank + 1) / size
}

/// Appends every element of `params`, times `scale`, to `values` (parameter by parameter, each
/// in its logical order).
pub(super) fn pack<T: Scalar, P: Parameters<T>, V: Wire>(params: &P, scale: f64, values: &mut Vec<V>) {
    for i in 0..params.count() {
        values.extend(params.param(i).iter().map(|v| V::from_f64(v.to_f64() * scale)));
    }
}

/// Reads what [`pack`] wrote (with a scale of 1) back into `params`.
pub(super) fn unpack<T: Scalar, P: Parameters<T>, V: Wire>(values: &[V], params: &mut P) {
    let mut values = values.iter();
    for i in 0..params.count() {
        for (v, &x) in params.param_mut(i).iter_mut().zip(&mut values) {
            *v = T::from_f64(x.to_f64());
        }
    }
}

/// Sets every element of `params` to zero.
pub(super) fn zero<T: Scalar, P: Parameters<T>>(params: &mut P) {
    (0..params.count()).for_each(|i| params.param_mut(i).fill(T::ZERO));
}

/// Checks that every process computed the same `fingerprint` (of the seed, the data, the
/// network, the optimiser and the batch size); an error on every process otherwise, naming
/// the processes that differ from process 0.
pub(super) fn agree<W: Workers + ?Sized>(workers: &W, fingerprint: u32) -> Result<()> {
    let mut first = [f64::from(fingerprint)];
    workers.broadcast(&mut first);
    let mut differs = vec![0.0; workers.size()];
    differs[workers.rank()] = f64::from(u8::from(first[0] != f64::from(fingerprint)));
    workers.sum(&mut differs);
    let others: Vec<String> = (0..differs.len())
        .filter(|&r| differs[r] > 0.0)
        .map(|r| r.to_string())
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    Err(Error::Config {
        setting: "data-parallel training".into(),
        message: format!(
            "process {} has another seed, data set, network, optimiser or batch size than process 0; \
             every process must be started with the same ones",
            others.join(", ")
        ),
    })
}

/// Sums the weighted gradients and losses of every process's share of a batch into `grads`
/// and the returned loss, with one all-reduce over a buffer of `[a failure flag per process,
/// loss, gradient…]`, in f32 for an f32 network and in f64 otherwise. A process whose share
/// failed contributes zeros and its flag, so that no process waits for it; every process then
/// returns an error: the failed one its own, the others one naming it (`at` says where in the
/// run).
pub(super) fn combine<T: Scalar, P: Parameters<T>, W: Workers + ?Sized>(
    workers: &W,
    buffers: &mut Reduction,
    outcome: Result<f64>,
    weight: f64,
    grads: &mut P,
    at: impl Fn() -> String,
) -> Result<f64> {
    if T::NAME == "f32" {
        combine_in(workers, &mut buffers.f32, outcome, weight, grads, at)
    } else {
        combine_in(workers, &mut buffers.f64, outcome, weight, grads, at)
    }
}

/// [`combine`] over a buffer of `V`.
fn combine_in<T: Scalar, P: Parameters<T>, W: Workers + ?Sized, V: Wire>(
    workers: &W,
    buffer: &mut Vec<V>,
    outcome: Result<f64>,
    weight: f64,
    grads: &mut P,
    at: impl Fn() -> String,
) -> Result<f64> {
    let size = workers.size();
    buffer.clear();
    buffer.resize(size, V::ZERO);
    let (loss, failure) = match outcome {
        Ok(loss) => (loss * weight, None),
        Err(error) => {
            zero(grads);
            buffer[workers.rank()] = V::from_f64(1.0);
            (0.0, Some(error))
        }
    };
    buffer.push(V::from_f64(loss));
    pack(grads, weight, buffer);
    V::sum(workers, buffer);
    if let Some(error) = failure {
        return Err(error);
    }
    if let Some(failed) = (0..size).find(|&r| buffer[r] > V::ZERO) {
        return Err(Error::Config {
            setting: "data-parallel training".into(),
            message: format!("process {failed} failed at {}; it reported the error", at()),
        });
    }
    unpack(&buffer[size + 1..], grads);
    Ok(buffer[size].to_f64())
}

#[cfg(feature = "mpi")]
pub use self::mpi_world::Mpi;

#[cfg(feature = "mpi")]
mod mpi_world {
    use std::cell::RefCell;

    use mpi::collective::SystemOperation;
    use mpi::environment::Universe;
    use mpi::topology::SimpleCommunicator;
    use mpi::traits::{Communicator, CommunicatorCollectives, Equivalence, Root};

    use super::Workers;

    /// `values` summed over the processes of `world`, received into `received`.
    fn all_reduce<V: Equivalence + Copy + Default>(
        world: &SimpleCommunicator,
        received: &RefCell<Vec<V>>,
        values: &mut [V],
    ) {
        let mut received = received.borrow_mut();
        received.resize(values.len(), V::default());
        world.all_reduce_into(&*values, &mut received[..], SystemOperation::sum());
        values.copy_from_slice(&received);
    }

    /// The processes of `MPI_COMM_WORLD`. MPI is finalised when this is dropped.
    pub struct Mpi {
        world: SimpleCommunicator,
        /// The all-reduce's receive buffers, kept between calls.
        received: RefCell<Vec<f64>>,
        received_f32: RefCell<Vec<f32>>,
        _universe: Universe,
    }

    impl Mpi {
        /// Initialises MPI; `None` if it was initialised already in this process.
        pub fn initialize() -> Option<Mpi> {
            let universe = mpi::initialize()?;
            Some(Mpi {
                world: universe.world(),
                received: RefCell::new(Vec::new()),
                received_f32: RefCell::new(Vec::new()),
                _universe: universe,
            })
        }
    }

    impl Workers for Mpi {
        fn rank(&self) -> usize {
            self.world.rank() as usize
        }
        fn size(&self) -> usize {
            self.world.size() as usize
        }
        fn sum(&self, values: &mut [f64]) {
            all_reduce(&self.world, &self.received, values);
        }
        fn sum_f32(&self, values: &mut [f32]) {
            all_reduce(&self.world, &self.received_f32, values);
        }
        fn broadcast(&self, values: &mut [f64]) {
            self.world.process_at_rank(0).broadcast_into(values);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier, Mutex};

    use ndarray::Array2;

    use super::{Reduction, Workers, combine, share};
    use crate::error::Error;
    use crate::params::{ParamList, Parameters};
    use crate::scalar::Scalar;

    /// Two threads standing in for two processes.
    struct Pair {
        rank: usize,
        shared: Arc<(Mutex<Vec<f64>>, Barrier)>,
    }

    impl Workers for Pair {
        fn rank(&self) -> usize {
            self.rank
        }
        fn size(&self) -> usize {
            2
        }
        fn sum(&self, values: &mut [f64]) {
            let (total, barrier) = &*self.shared;
            {
                let mut total = total.lock().unwrap();
                total.resize(values.len(), 0.0);
                total.iter_mut().zip(values.iter()).for_each(|(t, v)| *t += v);
            }
            barrier.wait();
            values.copy_from_slice(&total.lock().unwrap());
            barrier.wait();
            if self.rank == 0 {
                total.lock().unwrap().clear();
            }
            barrier.wait();
        }
        fn sum_f32(&self, values: &mut [f32]) {
            // Exact here: the tests' values are small multiples of powers of two.
            let mut wide: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
            self.sum(&mut wide);
            values.iter_mut().zip(&wide).for_each(|(v, &w)| *v = w as f32);
        }
        fn broadcast(&self, _: &mut [f64]) {
            unimplemented!("not needed here")
        }
    }

    /// Runs `each(rank, workers)` on two threads; returns their results by rank.
    fn on_two<R: Send + 'static>(each: impl Fn(&Pair) -> R + Send + Sync + 'static) -> Vec<R> {
        let shared = Arc::new((Mutex::new(Vec::new()), Barrier::new(2)));
        let each = Arc::new(each);
        let threads: Vec<_> = (0..2)
            .map(|rank| {
                let (shared, each) = (shared.clone(), each.clone());
                std::thread::spawn(move || each(&Pair { rank, shared }))
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    }

    fn grads<T: Scalar>(value: f64) -> ParamList<T> {
        let mut grads = ParamList::new();
        grads.push("w", Array2::from_elem((2, 3), T::from_f64(value)));
        grads
    }

    /// Two shares of a batch, a quarter and three quarters of it, summed in `T`'s precision.
    fn weighted_sum<T: Scalar>() {
        let results = on_two(|pair| {
            let (loss, weight) = if pair.rank == 0 { (1.0, 0.25) } else { (3.0, 0.75) };
            let mut grads = grads::<T>(loss * 10.0);
            let loss = combine(
                pair,
                &mut Reduction::default(),
                Ok(loss),
                weight,
                &mut grads,
                String::new,
            )
            .unwrap();
            (loss, grads)
        });
        for (loss, grads) in results {
            assert_eq!(loss, 0.25 * 1.0 + 0.75 * 3.0);
            assert!(grads.param(0).iter().all(|&g| g == T::from_f64(25.0)), "{}", T::NAME);
        }
    }

    #[test]
    fn shares_are_summed_by_their_weights() {
        weighted_sum::<f64>();
        weighted_sum::<f32>();
    }

    #[test]
    fn a_failed_share_stops_both_processes_and_the_other_names_it() {
        let results = on_two(|pair| {
            let outcome = if pair.rank == 1 {
                Err(Error::format("the batch", "something broke"))
            } else {
                Ok(1.0)
            };
            let mut grads = grads::<f32>(f64::NAN);
            let at = || "epoch 2, step 7".to_owned();
            combine(pair, &mut Reduction::default(), outcome, 0.5, &mut grads, at)
                .map(|_| ())
                .unwrap_err()
                .to_string()
        });
        assert!(
            results[0].contains("process 1 failed at epoch 2, step 7"),
            "{}",
            results[0]
        );
        assert!(results[1].contains("something broke"), "{}", results[1]);
    }

    #[test]
    fn shares_cover_a_batch_once_in_order() {
        for (len, size) in [(10, 3), (7, 7), (5, 2), (64, 4), (3, 2)] {
            let ranges: Vec<_> = (0..size).map(|r| share(len, r, size)).collect();
            assert_eq!(ranges[0].start, 0);
            assert_eq!(ranges[size - 1].end, len);
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
            }
            let lens: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
            assert!(lens.iter().max().unwrap() - lens.iter().min().unwrap() <= 1, "{lens:?}");
        }
    }
}
