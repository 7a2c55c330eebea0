//! The processes a run is spread over (data parallelism): every process holds the whole data
//! set and the same parameters, computes the gradient of its share of each global mini-batch,
//! and the shares are summed with one all-reduce, weighted so that the sum is the gradient of
//! the whole batch; every process then takes the same optimiser step.
//!
//! [`Alone`] is one process; with the `mpi` feature, [`Mpi`] is the processes `mpirun`
//! started, on Open MPI (or any MPI library the `mpi` crate builds against).
//!
//! The buffer summed is `[a failure flag per process, loss, each parameter's gradient…]`, cut
//! into parts, one per parameter's gradient: each is written as soon as the backward pass has
//! finished that gradient ([`Model::loss_and_grad_with_hook`]). By default the whole buffer is
//! summed after the pass. With an overlap bucket, the parts are grouped into buckets from the
//! last one, and a bucket's sum starts as soon as its gradients are final, while the backward
//! pass computes the earlier layers'; every process starts the buckets' sums in the same fixed
//! order (see [`Parts`]). It adds the same numbers either way: the results are the same.
//!
//! The gradients are summed in the network's own precision: an f32 network sends half the
//! bytes an f64 one does (the sum of a handful of f32 shares rounds each partial sum once
//! more than an f64 sum would, about 6·10⁻⁸ of it per addition, below what one step of
//! f32 training resolves).

use ndarray::ArrayViewD;

use crate::error::{Error, Result};
#[cfg(doc)]
use crate::model::Model;
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
    /// Replaces `values` by their sum over every process, as [`Workers::sum`] does, in parts
    /// (consecutive, of lengths `lens`) that `compute` writes one by one through
    /// [`Parts::ready`]; an implementation may start summing a bucket of parts (of at least
    /// `bucket` elements, see [`Parts`]) while `compute` is still writing others. `compute` is
    /// called once; the parts it leaves are zeros. This default sums the whole of `values`
    /// after `compute`.
    fn sum_parts(&self, values: &mut [f64], lens: &[usize], bucket: usize, compute: &mut Compute<'_, f64>) {
        fill_parts(values, lens, bucket, &mut |_| {}, compute);
        self.sum(values);
    }
    /// The same in f32.
    fn sum_parts_f32(&self, values: &mut [f32], lens: &[usize], bucket: usize, compute: &mut Compute<'_, f32>) {
        fill_parts(values, lens, bucket, &mut |_| {}, compute);
        self.sum_f32(values);
    }
}

/// What [`Workers::sum_parts`] runs: a computation writing the parts.
pub type Compute<'c, V> = dyn FnMut(&mut Parts<'_, '_, V>) + 'c;

/// The parts of a buffer being summed over the processes, which a computation finishes one by
/// one ([`Parts::ready`]). Consecutive parts are grouped into buckets of at least a given
/// number of elements, from the end of the buffer; a bucket is handed on (to `send`, which
/// starts its sum) once all its parts are finished and every bucket after it has been handed
/// on. So buckets go in a fixed order, the last one first, whatever order the parts were
/// finished in, and every process starts the same sums in the same order, as MPI requires.
/// The last one first, because a backward pass finishes the gradients of the last layers
/// first. Each bucket handed on is a suffix of what remains of the buffer.
pub struct Parts<'a, 's, V> {
    /// The buffer before the buckets handed on so far.
    unsent: &'a mut [V],
    /// Part `i` is `offsets[i]..offsets[i + 1]`.
    offsets: Vec<usize>,
    finished: Vec<bool>,
    /// The parts where buckets start, from the last bucket's to 0.
    starts: Vec<usize>,
    send: &'s mut dyn FnMut(&'a [V]),
}

impl<'a, 's, V: Copy> Parts<'a, 's, V> {
    /// `values` cut into consecutive parts of lengths `lens` (summing to its length), grouped
    /// from the end into buckets of at least `bucket` elements (the first bucket may have
    /// fewer), each handed to `send` once finished.
    pub fn new(values: &'a mut [V], lens: &[usize], bucket: usize, send: &'s mut dyn FnMut(&'a [V])) -> Self {
        assert_eq!(
            lens.iter().sum::<usize>(),
            values.len(),
            "the parts do not tile the buffer"
        );
        let mut offsets = vec![0];
        offsets.extend(lens.iter().scan(0, |end, len| {
            *end += len;
            Some(*end)
        }));
        let (mut starts, mut end) = (Vec::new(), lens.len());
        for start in (0..lens.len()).rev() {
            if start == 0 || offsets[end] - offsets[start] >= bucket {
                starts.push(start);
                end = start;
            }
        }
        Parts {
            unsent: values,
            offsets,
            finished: vec![false; lens.len()],
            starts,
            send,
        }
    }

    /// Finishes part `index`: `write` fills it (each part once; a second call for the same part
    /// does nothing), then every bucket whose turn has come is handed on.
    pub fn ready(&mut self, index: usize, write: impl FnOnce(&mut [V])) {
        if self.is_ready(index) {
            return;
        }
        write(&mut self.unsent[self.offsets[index]..self.offsets[index + 1]]);
        self.finished[index] = true;
        while let Some(&start) = self.starts.first() {
            let end = self.finished.len() - self.finished.iter().rev().take_while(|&&f| f).count();
            if end > start {
                break;
            }
            let (rest, bucket) = std::mem::take(&mut self.unsent).split_at_mut(self.offsets[start]);
            self.unsent = rest;
            self.finished.truncate(start);
            self.starts.remove(0);
            (self.send)(bucket);
        }
    }

    /// Whether part `index` is finished.
    pub fn is_ready(&self, index: usize) -> bool {
        self.finished.get(index).is_none_or(|&f| f)
    }

    /// Fills the parts not finished yet with `zero` and hands every bucket on.
    pub fn finish(mut self, zero: V) {
        for index in (0..self.finished.len()).rev() {
            self.ready(index, |part| part.fill(zero));
        }
    }
}

/// Runs `compute` over the parts of `values` (in buckets of at least `bucket` elements), handing
/// each bucket to `send`, then zeroes and hands on the parts it left.
fn fill_parts<'a, V: Copy + Default>(
    values: &'a mut [V],
    lens: &[usize],
    bucket: usize,
    send: &mut dyn FnMut(&'a [V]),
    compute: &mut Compute<'_, V>,
) {
    let mut parts = Parts::new(values, lens, bucket, send);
    compute(&mut parts);
    parts.finish(V::default());
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
    /// [`Workers::sum_parts`] or [`Workers::sum_parts_f32`].
    fn sum_parts<W: Workers + ?Sized>(
        workers: &W,
        values: &mut [Self],
        lens: &[usize],
        bucket: usize,
        compute: &mut Compute<'_, Self>,
    );
}

impl Wire for f64 {
    const ZERO: f64 = 0.0;
    fn from_f64(value: f64) -> f64 {
        value
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn sum_parts<W: Workers + ?Sized>(
        workers: &W,
        values: &mut [f64],
        lens: &[usize],
        bucket: usize,
        compute: &mut Compute<'_, f64>,
    ) {
        workers.sum_parts(values, lens, bucket, compute);
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
    fn sum_parts<W: Workers + ?Sized>(
        workers: &W,
        values: &mut [f32],
        lens: &[usize],
        bucket: usize,
        compute: &mut Compute<'_, f32>,
    ) {
        workers.sum_parts_f32(values, lens, bucket, compute);
    }
}

/// The buffers of the all-reduce, one per precision, kept between steps.
#[derive(Default)]
pub(super) struct Reduction {
    f64: Vec<f64>,
    f32: Vec<f32>,
    /// The lengths of the buffer's parts.
    lens: Vec<usize>,
}

/// The share of `len` items that process `rank` of `size` takes: contiguous, sizes differing by
/// at most one, in rank order.
pub fn share(len: usize, rank: usize, size: usize) -> std::ops::Range<usize> {
    len * rank / size..len * (rank + 1) / size
}

/// Appends every element of `params` to `values` (parameter by parameter, each in its logical
/// order).
pub(super) fn pack<T: Scalar, P: Parameters<T>, V: Wire>(params: &P, values: &mut Vec<V>) {
    for i in 0..params.count() {
        values.extend(params.param(i).iter().map(|v| V::from_f64(v.to_f64())));
    }
}

/// Reads what [`pack`] wrote back into `params`.
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
/// network, the optimiser, the batch size and the overlap bucket); an error on every process
/// otherwise, naming the processes that differ from process 0.
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
            "process {} has another seed, data set, network, optimiser, batch size or overlap than process 0; \
             every process must be started with the same ones",
            others.join(", ")
        ),
    })
}

/// Computes this process's share of a batch with `compute` (into `grads`; it calls its hook
/// with each parameter's gradient once final) and sums the weighted gradients and losses of
/// every process into `grads` and the returned loss, over one buffer of `[a failure flag per
/// process, loss, gradient…]` in f32 for an f32 network and in f64 otherwise. Each parameter's
/// part of the buffer is written as soon as `compute` announces it, and the buffer is summed in
/// buckets of at least `bucket` elements from its end (see [`Parts`]): the last layers' sums
/// start while the backward pass computes the earlier ones (`usize::MAX`: the whole buffer
/// after the pass). A process whose share failed contributes zeros and its flag, so that no
/// process waits for it; every process then returns an error: the failed one its own, the
/// others one naming it (`at` says where in the run).
#[allow(clippy::too_many_arguments)]
pub(super) fn reduce_step<T: Scalar, P: Parameters<T>, W: Workers + ?Sized>(
    workers: &W,
    buffers: &mut Reduction,
    bucket: usize,
    weight: f64,
    grads: &mut P,
    compute: impl FnOnce(&mut P, &mut dyn FnMut(usize, ArrayViewD<'_, T>)) -> Result<f64>,
    at: impl Fn() -> String,
) -> Result<f64> {
    if T::NAME == "f32" {
        reduce_in(
            workers,
            &mut buffers.f32,
            &mut buffers.lens,
            bucket,
            weight,
            grads,
            compute,
            at,
        )
    } else {
        reduce_in(
            workers,
            &mut buffers.f64,
            &mut buffers.lens,
            bucket,
            weight,
            grads,
            compute,
            at,
        )
    }
}

/// [`reduce_step`] over a buffer of `V`.
#[allow(clippy::too_many_arguments)]
fn reduce_in<T: Scalar, P: Parameters<T>, W: Workers + ?Sized, V: Wire>(
    workers: &W,
    buffer: &mut Vec<V>,
    lens: &mut Vec<usize>,
    bucket: usize,
    weight: f64,
    grads: &mut P,
    compute: impl FnOnce(&mut P, &mut dyn FnMut(usize, ArrayViewD<'_, T>)) -> Result<f64>,
    at: impl Fn() -> String,
) -> Result<f64> {
    let (size, rank) = (workers.size(), workers.rank());
    let header = size + 1;
    lens.clear();
    lens.push(header);
    lens.extend((0..grads.count()).map(|i| grads.param(i).len()));
    // Every part is written before it is sent (the header below, the gradients as announced,
    // the rest zeroed by `Parts::finish`), so the buffer is not cleared between steps.
    buffer.resize(lens.iter().sum(), V::ZERO);
    let (mut compute, mut failure) = (Some(compute), None);
    V::sum_parts(workers, buffer, lens, bucket, &mut |parts| {
        let Some(compute) = compute.take() else { return };
        let mut on_final = |i: usize, gradient: ArrayViewD<'_, T>| {
            parts.ready(i + 1, |part| scale_into(gradient, weight, part));
        };
        let mut outcome = compute(&mut *grads, &mut on_final);
        if let Some(i) = (0..grads.count()).find(|&i| outcome.is_ok() && !parts.is_ready(i + 1)) {
            outcome = Err(Error::Config {
                setting: "data-parallel training".into(),
                message: format!("the model never announced the gradient of `{}` final", grads.name(i)),
            });
        }
        parts.ready(0, |head| {
            head.fill(V::ZERO);
            match outcome {
                Ok(loss) => head[size] = V::from_f64(loss * weight),
                Err(error) => {
                    head[rank] = V::from_f64(1.0);
                    failure = Some(error);
                }
            }
        });
    });
    if let Some(error) = failure {
        return Err(error);
    }
    if let Some(failed) = (0..size).find(|&r| buffer[r] > V::ZERO) {
        return Err(Error::Config {
            setting: "data-parallel training".into(),
            message: format!("process {failed} failed at {}; it reported the error", at()),
        });
    }
    unpack(&buffer[header..], grads);
    Ok(buffer[size].to_f64())
}

/// Writes `gradient × weight` into `part`, in the gradient's logical order.
fn scale_into<T: Scalar, V: Wire>(gradient: ArrayViewD<'_, T>, weight: f64, part: &mut [V]) {
    for (v, g) in part.iter_mut().zip(gradient.iter()) {
        *v = V::from_f64(g.to_f64() * weight);
    }
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

    use super::{Compute, Workers, fill_parts};

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

    /// `values` summed over the processes of `world` bucket by bucket, each bucket's
    /// non-blocking all-reduce started as soon as [`Parts`] hands it on, except the last one,
    /// a blocking all-reduce, after which all are awaited. MPI moves a non-blocking operation
    /// on only inside its calls (Open MPI has no progress thread by default), so every start
    /// also tests the earlier ones.
    fn all_reduce_parts<V: Equivalence + Copy + Default>(
        world: &SimpleCommunicator,
        received: &RefCell<Vec<V>>,
        values: &mut [V],
        lens: &[usize],
        bucket: usize,
        compute: &mut Compute<'_, V>,
    ) {
        let mut received = received.borrow_mut();
        received.resize(values.len(), V::default());
        start_and_wait(world, values, &mut received, lens, bucket, compute);
        values.copy_from_slice(&received);
    }

    /// The buckets' all-reduces of [`all_reduce_parts`], from `values` into `received`.
    fn start_and_wait<'a, V: Equivalence + Copy + Default>(
        world: &SimpleCommunicator,
        values: &'a mut [V],
        mut received: &'a mut [V],
        lens: &[usize],
        bucket: usize,
        compute: &mut Compute<'_, V>,
    ) {
        mpi::request::multiple_scope(lens.len(), |scope, requests| {
            let mut completed = Vec::with_capacity(lens.len());
            let mut send = |sent: &'a [V]| {
                // Buckets come as suffixes of what is left of the buffer.
                let left = received.len() - sent.len();
                let (rest, into) = std::mem::take(&mut received).split_at_mut(left);
                received = rest;
                if received.is_empty() {
                    world.all_reduce_into(sent, into, SystemOperation::sum());
                } else {
                    requests.add(world.immediate_all_reduce_into(scope, sent, into, SystemOperation::sum()));
                    requests.test_some(&mut completed);
                }
            };
            fill_parts(values, lens, bucket, &mut send, compute);
            requests.wait_all(&mut completed);
        });
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
        fn sum_parts(&self, values: &mut [f64], lens: &[usize], bucket: usize, compute: &mut Compute<'_, f64>) {
            all_reduce_parts(&self.world, &self.received, values, lens, bucket, compute);
        }
        fn sum_parts_f32(&self, values: &mut [f32], lens: &[usize], bucket: usize, compute: &mut Compute<'_, f32>) {
            all_reduce_parts(&self.world, &self.received_f32, values, lens, bucket, compute);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier, Mutex};

    use ndarray::{Array2, ArrayViewD};

    use super::{Parts, Reduction, Workers, reduce_step, share};
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
        grads.push("b", Array2::from_elem((1, 3), T::from_f64(value)));
        grads
    }

    /// Two shares of a batch, a quarter and three quarters of it, summed in `T`'s precision,
    /// each parameter's gradient sent as it is announced or all of it after the pass.
    fn weighted_sum<T: Scalar>(bucket: usize) {
        let results = on_two(move |pair| {
            let (loss, weight) = if pair.rank == 0 { (1.0, 0.25) } else { (3.0, 0.75) };
            let mut grads = grads::<T>(loss * 10.0);
            let compute = |grads: &mut ParamList<T>, on_final: &mut dyn FnMut(usize, ArrayViewD<'_, T>)| {
                (0..grads.count()).rev().for_each(|i| on_final(i, grads.param(i)));
                Ok(loss)
            };
            let mut reduction = Reduction::default();
            let loss = reduce_step(pair, &mut reduction, bucket, weight, &mut grads, compute, String::new).unwrap();
            (loss, grads)
        });
        for (loss, grads) in results {
            assert_eq!(loss, 0.25 * 1.0 + 0.75 * 3.0);
            for i in 0..grads.count() {
                assert!(grads.param(i).iter().all(|&g| g == T::from_f64(25.0)), "{}", T::NAME);
            }
        }
    }

    #[test]
    fn shares_are_summed_by_their_weights() {
        for bucket in [0, 4, usize::MAX] {
            weighted_sum::<f64>(bucket);
            weighted_sum::<f32>(bucket);
        }
    }

    #[test]
    fn a_failed_share_stops_both_processes_and_the_other_names_it() {
        for bucket in [0, usize::MAX] {
            let results = on_two(move |pair| {
                let rank = pair.rank;
                // Process 1 fails after announcing one gradient.
                let compute = |grads: &mut ParamList<f32>, on_final: &mut dyn FnMut(usize, ArrayViewD<'_, f32>)| {
                    on_final(1, grads.param(1));
                    match rank {
                        1 => Err(Error::format("the batch", "something broke")),
                        _ => {
                            on_final(0, grads.param(0));
                            Ok(1.0)
                        }
                    }
                };
                let at = || "epoch 2, step 7".to_owned();
                let mut grads = grads::<f32>(f64::NAN);
                reduce_step(pair, &mut Reduction::default(), bucket, 0.5, &mut grads, compute, at)
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
    }

    #[test]
    fn a_gradient_never_announced_is_an_error_not_a_zero() {
        let results = on_two(|pair| {
            let compute = |grads: &mut ParamList<f64>, on_final: &mut dyn FnMut(usize, ArrayViewD<'_, f64>)| {
                on_final(1, grads.param(1));
                Ok(1.0)
            };
            let mut grads = grads::<f64>(1.0);
            reduce_step(
                pair,
                &mut Reduction::default(),
                0,
                0.5,
                &mut grads,
                compute,
                String::new,
            )
            .unwrap_err()
            .to_string()
        });
        assert!(
            results
                .iter()
                .any(|e| e.contains("never announced the gradient of `w`")),
            "{results:?}"
        );
    }

    /// Parts finished in any order are handed on in buckets, the last first, each once, as
    /// suffixes of the buffer; the parts left are zeros.
    #[test]
    fn buckets_are_sent_in_a_fixed_order_whatever_order_their_parts_finish_in() {
        // Parts of 1, 2, 0, 3 and 1 elements; buckets of at least 3 from the end: [3, 4], [0, 1, 2].
        let mut values = [9.0; 7];
        let mut sent = Vec::new();
        let mut send = |bucket: &[f64]| sent.push(bucket.to_vec());
        let mut parts = Parts::new(&mut values, &[1, 2, 0, 3, 1], 3, &mut send);
        parts.ready(1, |p| p.fill(1.0));
        parts.ready(4, |p| p.fill(4.0));
        assert!(!parts.is_ready(3) && parts.is_ready(4));
        parts.ready(3, |p| p.fill(3.0));
        assert!(parts.is_ready(3) && parts.is_ready(4));
        parts.ready(3, |p| p.fill(-3.0));
        parts.finish(0.0);
        assert_eq!(sent, [vec![3.0, 3.0, 3.0, 4.0], vec![0.0, 1.0, 1.0]]);
        // Buckets of one part each (empty parts too), whatever the order of finishing.
        let (mut values, mut sent) = ([9.0; 4], Vec::new());
        let mut send = |bucket: &[f64]| sent.push(bucket.to_vec());
        let mut parts = Parts::new(&mut values, &[1, 0, 3], 0, &mut send);
        parts.ready(0, |p| p.fill(1.0));
        parts.ready(2, |p| p.fill(2.0));
        parts.finish(0.0);
        assert_eq!(sent, [vec![2.0; 3], vec![], vec![1.0]]);
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
