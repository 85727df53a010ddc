using System;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace OptGen.Kernels;

/// <summary>
/// Splits one fused update across cores: the tensor is cut into fixed <see cref="ChunkElements"/>-element chunks
/// that the calling thread and up to <c>threads − 1</c> thread-pool workers claim one at a time. The step engine's
/// pieces (many tensors, the norm pass) are handed out the same way by <c>RunPieces</c>.
/// </summary>
/// <remarks>
/// <para>Chunk boundaries depend only on the tensor's length, never on the thread count, and are multiples of 16
/// elements, so every element goes through the same SIMD width as in a single-threaded run: results are
/// bit-identical for any number of threads.</para>
/// <para>The calling thread works too and claims chunks dynamically, so a worker that is slow to start (another
/// process holds the core) costs little: the caller takes its chunks, and a worker that has not started when the
/// work runs out is revoked instead of waited for. Nobody spins for long: waiting for a started worker's last chunk
/// goes through <see cref="ManualResetEventSlim"/>.</para>
/// <para>No step allocates after warm-up: the job, its workers and their events are cached per calling thread
/// and kernel type, the buffers are pinned with <c>fixed</c> for the duration of the call, and work items are
/// queued with <see cref="ThreadPool.UnsafeQueueUserWorkItem(IThreadPoolWorkItem, bool)"/>.</para>
/// </remarks>
public static class ParallelUpdate
{
    /// <summary>Elements per chunk: a multiple of 16 (one 512-bit vector of float32).</summary>
    public const int ChunkElements = 1 << 15;

    /// <summary>The fewest elements worth a thread: a tensor gets one more thread per this many elements.</summary>
    public const int MinimumElementsPerThread = 1 << 17;

    private static int s_defaultMaxDegreeOfParallelism = Environment.ProcessorCount;

    /// <summary>
    /// The most threads one update uses when its optimizer does not say (<see cref="Optimizer.MaxDegreeOfParallelism"/>
    /// = −1). Defaults to <see cref="Environment.ProcessorCount"/>; 1 makes every update single-threaded.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public static int DefaultMaxDegreeOfParallelism
    {
        get => Volatile.Read(ref s_defaultMaxDegreeOfParallelism);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            Volatile.Write(ref s_defaultMaxDegreeOfParallelism, value);
        }
    }

    /// <summary>
    /// The number of threads an update of <paramref name="length"/> elements uses: at most
    /// <paramref name="maxDegreeOfParallelism"/> (≤ 0: <see cref="DefaultMaxDegreeOfParallelism"/>), one per
    /// <see cref="MinimumElementsPerThread"/> elements, and no more than there are chunks.
    /// </summary>
    public static int ThreadsFor(nuint length, int maxDegreeOfParallelism)
    {
        int max = maxDegreeOfParallelism > 0 ? maxDegreeOfParallelism : DefaultMaxDegreeOfParallelism;
        if (max <= 1 || length < 2 * (nuint)MinimumElementsPerThread)
        {
            return 1;
        }

        nuint byLength = length / (nuint)MinimumElementsPerThread;
        return (int)Math.Min((nuint)max, byLength);
    }

    /// <summary>Runs <paramref name="kernel"/> over the tensor in <paramref name="arguments"/> on up to <paramref name="threads"/> threads.</summary>
    internal static unsafe void Run<TKernel, TParameter, TGradient, TState>(in TKernel kernel, scoped in KernelArguments arguments, int threads)
        where TKernel : struct, IUpdateKernel
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec
    {
        // Pin the caller's buffers for the duration of the call; workers get raw pointers. State storage is pinned already.
        fixed (byte* p = &arguments.Parameters)
        fixed (byte* g = &arguments.Gradients)
        fixed (byte* s = &arguments.State)
        {
            Job<TKernel, TParameter, TGradient, TState> job = Job<TKernel, TParameter, TGradient, TState>.ForCurrentThread();
            job.Run(in kernel, p, g, s, arguments.StateStride, arguments.Length, threads);
        }
    }

    /// <summary>A worker slot: one thread-pool work item that joins its job if it starts before the job is over.</summary>
    private sealed class Worker(JobBase job) : IThreadPoolWorkItem
    {
        private const int Idle = 0;
        private const int Queued = 1;
        private const int Running = 2;
        private const int Done = 3;
        private const int Revoked = 4;

        private readonly JobBase _job = job;
        private readonly ManualResetEventSlim _done = new(initialState: false, spinCount: 64);
        private int _state = Idle;

        /// <summary>Arms the slot for a job whose fields are already published, and queues its work item.</summary>
        public void Queue()
        {
            _done.Reset();
            Volatile.Write(ref _state, Queued);
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }

        /// <summary>Returns once this slot can no longer touch the job: revoked before it started, or finished.</summary>
        public void Complete()
        {
            if (Interlocked.CompareExchange(ref _state, Revoked, Queued) != Queued)
            {
                _done.Wait();
            }
        }

        /// <summary>
        /// Runs on a pool thread. A work item left in the queue from an earlier, revoked call finds the slot
        /// revoked (and exits) or armed for a later job (and serves it, as that job's own item would).
        /// </summary>
        public void Execute()
        {
            if (Interlocked.CompareExchange(ref _state, Running, Queued) != Queued)
            {
                return;
            }

            try
            {
                _job.RunChunks();
            }
            catch (Exception e)
            {
                // Never let it escape on a pool thread (that ends the process): the caller rethrows it.
                _job.Fail(e);
            }
            finally
            {
                Volatile.Write(ref _state, Done);
                _done.Set();
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> for every piece 0 ≤ k &lt; <paramref name="count"/> on up to
    /// <paramref name="threads"/> threads (the calling thread and <c>threads − 1</c> pool workers), each piece exactly
    /// once; which thread runs a piece does not matter to the result. Allocates nothing after the first call per
    /// calling thread and body type; with <paramref name="threads"/> ≤ 1 no work item is queued.
    /// </summary>
    internal static void RunPieces<TBody>(in TBody body, int count, int threads)
        where TBody : struct, IPieceBody
    {
        if (threads <= 1 || count <= 1)
        {
            for (int k = 0; k < count; k++)
            {
                body.Run(k);
            }

            return;
        }

        PieceJob<TBody>.ForCurrentThread().Run(in body, count, Math.Min(threads, count));
    }

    /// <summary>The part of a job workers see, and the workers it queues.</summary>
    private abstract class JobBase
    {
        private Worker[] _workers = [];
        private ExceptionDispatchInfo? _failure;

        /// <summary>Claims and runs chunks until none are left.</summary>
        public abstract void RunChunks();

        /// <summary>Records the first exception of any thread and lets no further chunk be claimed.</summary>
        public void Fail(Exception exception)
        {
            Interlocked.CompareExchange(ref _failure, ExceptionDispatchInfo.Capture(exception), null);
            StopClaims();
        }

        /// <summary>Makes every later claim find no work left.</summary>
        protected abstract void StopClaims();

        /// <summary>
        /// Runs <see cref="RunChunks"/> on the calling thread and up to <paramref name="threads"/> − 1 pool workers and
        /// returns when no worker can touch the job any more. The job's fields must be set before the call.
        /// </summary>
        protected void RunOnThreads(int threads)
        {
            if (_workers.Length < threads - 1)
            {
                Worker[] workers = new Worker[threads - 1];
                _workers.CopyTo(workers, 0);
                for (int w = _workers.Length; w < workers.Length; w++)
                {
                    workers[w] = new Worker(this);
                }

                _workers = workers;
            }

            // Arming a slot publishes the job's fields to the worker that claims it.
            for (int w = 0; w < threads - 1; w++)
            {
                _workers[w].Queue();
            }

            try
            {
                RunChunks();
            }
            catch (Exception e)
            {
                Fail(e);
            }
            finally
            {
                // Even after a failure: no worker may touch the caller's buffers once this returns.
                for (int w = 0; w < threads - 1; w++)
                {
                    _workers[w].Complete();
                }
            }

            ExceptionDispatchInfo? failure = Interlocked.Exchange(ref _failure, null);
            failure?.Throw();
        }
    }

    /// <summary>One calling thread's reusable job that hands out the pieces of a step to a <typeparamref name="TBody"/>.</summary>
    private sealed class PieceJob<TBody> : JobBase
        where TBody : struct, IPieceBody
    {
        [ThreadStatic]
        private static PieceJob<TBody>? t_job;

        private TBody _body;
        private int _count;
        private int _next;

        public static PieceJob<TBody> ForCurrentThread() => t_job ??= new();

        public void Run(in TBody body, int count, int threads)
        {
            _body = body;
            _count = count;
            Volatile.Write(ref _next, 0);
            try
            {
                RunOnThreads(threads);
            }
            finally
            {
                // Drop the references the body holds (the optimizer, its buffers) until the next step.
                _body = default;
            }
        }

        protected override void StopClaims() => Volatile.Write(ref _next, _count);

        public override void RunChunks()
        {
            int count = _count;
            int k;
            while ((k = Interlocked.Increment(ref _next) - 1) < count)
            {
                _body.Run(k);
            }
        }
    }

    /// <summary>One calling thread's reusable job for one kernel type.</summary>
    private sealed unsafe class Job<TKernel, TParameter, TGradient, TState> : JobBase
        where TKernel : struct, IUpdateKernel
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec
    {
        [ThreadStatic]
        private static Job<TKernel, TParameter, TGradient, TState>? t_job;

        private TKernel _kernel;
        private byte* _p;
        private byte* _g;
        private byte* _s;
        private nuint _stride;
        private nuint _length;
        private int _chunkCount;
        private int _nextChunk;

        public static Job<TKernel, TParameter, TGradient, TState> ForCurrentThread() => t_job ??= new();

        public void Run(in TKernel kernel, byte* p, byte* g, byte* s, nuint stride, nuint length, int threads)
        {
            _kernel = kernel;
            _p = p;
            _g = g;
            _s = s;
            _stride = stride;
            _length = length;
            _chunkCount = (int)((length + ChunkElements - 1) / ChunkElements);
            Volatile.Write(ref _nextChunk, 0);
            try
            {
                RunOnThreads(threads);
            }
            finally
            {
                _p = _g = _s = null;
            }
        }

        protected override void StopClaims() => Volatile.Write(ref _nextChunk, _chunkCount);

        public override void RunChunks()
        {
            int count = _chunkCount;
            nuint length = _length;
            int chunk;
            while ((chunk = Interlocked.Increment(ref _nextChunk) - 1) < count)
            {
                nuint start = (nuint)chunk * ChunkElements;
                nuint end = Math.Min(start + ChunkElements, length);
                UpdateDriver.RunRange<TKernel, TParameter, TGradient, TState>(
                    in _kernel, ref Unsafe.AsRef<byte>(_p), ref Unsafe.AsRef<byte>(_g), ref Unsafe.AsRef<byte>(_s), _stride, start, end);
            }
        }
    }
}

/// <summary>The work of one piece of a step, run by <see cref="ParallelUpdate.RunPieces{TBody}"/> on some thread.</summary>
internal interface IPieceBody
{
    /// <summary>
    /// Runs piece <paramref name="piece"/>. A body should not throw: pieces run before the throw have already written.
    /// If one does, <see cref="ParallelUpdate.RunPieces{TBody}"/> rethrows the first exception on the calling thread
    /// once every worker has left the buffers.
    /// </summary>
    void Run(int piece);
}
