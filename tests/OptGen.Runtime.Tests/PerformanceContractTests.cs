using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using OptGen.Kernels;
using Xunit;

namespace OptGen.Runtime.Tests;

/// <summary>
/// Allocation is measured process-wide for the multi-threaded path, so these tests run alone, after the
/// parallel collections.
/// </summary>
[CollectionDefinition(nameof(AllocationCollection), DisableParallelization = true)]
public sealed class AllocationCollection;

/// <summary>The runtime's performance contract: thread-count independence, no per-step allocation, aligned and staggered state.</summary>
[Collection(nameof(AllocationCollection))]
public sealed class PerformanceContractTests
{
    // Above the parallel threshold (2·MinimumElementsPerThread), not a multiple of 16 so every SIMD tail runs.
    private const int ParallelLength = (4 * ParallelUpdate.MinimumElementsPerThread) + 13;

    public static TheoryData<string> Rules => new() { "Adam", "AdamW", "SgdMomentum", "RmsProp", "MyAdagrad", "AdamMinT", "AmsGradAdam", "Sgd" };

    private static Optimizer Create(string rule, int length) => rule switch
    {
        "Adam" => new Adam(length) { WeightDecay = 0.01 },
        "AdamW" => new AdamW(length),
        "SgdMomentum" => new SgdMomentum(length),
        "RmsProp" => new RmsProp(length),
        "MyAdagrad" => new MyAdagrad(length),
        "AdamMinT" => new AdamMinT(length),
        "AmsGradAdam" => new AmsGradAdam(length),
        "Sgd" => new Sgd(length) { WeightDecay = 0.01 },
        _ => throw new ArgumentException(rule, nameof(rule)),
    };

    private static (float[] Parameters, float[][] Gradients) Data(int length, int steps)
    {
        var random = new Random(1234);
        float[] p = new float[length];
        for (int i = 0; i < length; i++)
        {
            p[i] = (float)((random.NextDouble() * 2) - 1);
        }

        float[][] g = new float[steps][];
        for (int s = 0; s < steps; s++)
        {
            g[s] = new float[length];
            for (int i = 0; i < length; i++)
            {
                g[s][i] = (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-4, 2)));
            }
        }

        return (p, g);
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void ResultsAreBitIdenticalForOneTwoAndThreeThreads(string rule)
    {
        const int steps = 3;
        (float[] initial, float[][] gradients) = Data(ParallelLength, steps);
        float[]? reference = null;
        float[][]? referenceState = null;

        foreach (int threads in new[] { 1, 2, 3 })
        {
            Optimizer optimizer = Create(rule, ParallelLength);
            optimizer.MaxDegreeOfParallelism = threads;
            Assert.Equal(threads == 1 ? 1 : Math.Min(threads, 4), ParallelUpdate.ThreadsFor((nuint)ParallelLength, threads));
            float[] p = (float[])initial.Clone();
            for (int s = 0; s < steps; s++)
            {
                optimizer.Step(p, gradients[s]);
            }

            float[][] state = new float[optimizer.Descriptor.States.Count][];
            for (int k = 0; k < state.Length; k++)
            {
                state[k] = optimizer.GetState(optimizer.Descriptor.States[k].Name).ToArray();
            }

            if (reference is null)
            {
                // The serial run must have moved every parameter, or equality below would prove nothing.
                Assert.All(new[] { 0, 1, ParallelLength / 2, ParallelLength - 1 }, i => Assert.NotEqual(initial[i], p[i]));
                reference = p;
                referenceState = state;
                continue;
            }

            AssertBitEqual(reference, p, $"{rule}: parameters with {threads} threads");
            for (int k = 0; k < state.Length; k++)
            {
                AssertBitEqual(referenceState![k], state[k], $"{rule}: state {k} with {threads} threads");
            }
        }
    }

    private static void AssertBitEqual(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        ReadOnlySpan<int> e = MemoryMarshal.Cast<float, int>(expected);
        ReadOnlySpan<int> a = MemoryMarshal.Cast<float, int>(actual);
        int mismatch = e.SequenceEqual(a) ? -1 : FirstMismatch(e, a);
        Assert.True(mismatch < 0, $"{what}: first difference at element {mismatch}");
    }

    private static int FirstMismatch(ReadOnlySpan<int> e, ReadOnlySpan<int> a)
    {
        for (int i = 0; i < e.Length; i++)
        {
            if (e[i] != a[i])
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>A kernel that adds g to p and writes the id of the thread that ran each element into state plane 0.</summary>
    private readonly struct ThreadRecordingKernel : IUpdateKernel
    {
        public static int StateCount => 1;

        public void Step<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
            where TP : struct, IElementCodec
            where TG : struct, IElementCodec
            where TS : struct, IElementCodec
        {
            TP.Store(ref p, i, TP.Load(ref p, i) + TG.Load(ref g, i));
            TS.Store(ref s, i, CurrentThread);
        }

        public void Step128<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
            where TP : struct, IElementCodec
            where TG : struct, IElementCodec
            where TS : struct, IElementCodec
        {
            for (nuint j = 0; j < 4; j++)
            {
                Step<TP, TG, TS>(ref p, ref g, ref s, stride, i + j);
            }
        }

        public void Step256<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
            where TP : struct, IElementCodec
            where TG : struct, IElementCodec
            where TS : struct, IElementCodec
        {
            for (nuint j = 0; j < 8; j++)
            {
                Step<TP, TG, TS>(ref p, ref g, ref s, stride, i + j);
            }
        }

        public void Step512<TP, TG, TS>(ref byte p, ref byte g, ref byte s, nuint stride, nuint i)
            where TP : struct, IElementCodec
            where TG : struct, IElementCodec
            where TS : struct, IElementCodec
        {
            for (nuint j = 0; j < 16; j++)
            {
                Step<TP, TG, TS>(ref p, ref g, ref s, stride, i + j);
            }
        }

        private static float CurrentThread => Environment.CurrentManagedThreadId;
    }

    [Fact]
    public void WorkersTakeChunksAndEveryElementIsUpdatedExactlyOnce()
    {
        const int length = (8 * ParallelUpdate.MinimumElementsPerThread) + 5;
        float[] p = new float[length];
        float[] g = new float[length];
        float[] thread = new float[length];
        g.AsSpan().Fill(1f);
        float caller = Environment.CurrentManagedThreadId;
        bool workerSeen = false;

        // A worker that starts late is revoked and the caller does its chunks; retry until one joins (bounded).
        long deadline = Environment.TickCount64 + 5000;
        int attempt = 0;
        while (!workerSeen && (attempt < 20 || Environment.TickCount64 < deadline) && attempt < 2000)
        {
            attempt++;
            var arguments = new KernelArguments
            {
                Step = 1,
                GradientScale = 1,
                Parameters = ref Unsafe.As<float, byte>(ref p[0]),
                Gradients = ref Unsafe.As<float, byte>(ref g[0]),
                State = ref Unsafe.As<float, byte>(ref thread[0]),
                StateStride = (nuint)length,
                Length = (nuint)length,
                MaxDegreeOfParallelism = 2,
            };
            UpdateDriver.Run<ThreadRecordingKernel, Float32Codec, Float32Codec, Float32Codec>(default(ThreadRecordingKernel), in arguments);

            // Exactly once: after `attempt` passes every element is `attempt`, never attempt ± 1.
            Assert.True(p.AsSpan().IndexOfAnyExcept(attempt) < 0, $"pass {attempt}: an element was skipped or updated twice");
            int firstForeign = thread.AsSpan().IndexOfAnyExcept(caller);
            if (firstForeign >= 0)
            {
                workerSeen = true;

                // Threads own whole chunks: the element's chunk was run entirely by that thread.
                int start = firstForeign / ParallelUpdate.ChunkElements * ParallelUpdate.ChunkElements;
                Assert.Equal(start, firstForeign);
                int end = Math.Min(start + ParallelUpdate.ChunkElements, length);
                Assert.True(thread.AsSpan(start, end - start).IndexOfAnyExcept(thread[start]) < 0);
            }
        }

        // With one core a worker may legitimately never get a chunk; the exactly-once check above still ran.
        Assert.True(workerSeen || Environment.ProcessorCount == 1, $"no pool worker joined a 2-thread update in {attempt} attempts");
    }

    [Fact]
    public void SingleThreadedStepAllocatesNothingAfterWarmUp()
    {
        var adam = new Adam(1027) { MaxDegreeOfParallelism = 1 };
        (float[] p, float[][] g) = Data(1027, 1);
        adam.Step(p, g[0]);
        adam.Step(p, g[0]);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int s = 0; s < 100; s++)
        {
            adam.Step(p, g[0]);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }

    [Theory]
    [MemberData(nameof(Rules))]
    public void MultiThreadedStepAllocatesNothingAfterWarmUp(string rule)
    {
        Optimizer optimizer = Create(rule, ParallelLength);
        optimizer.MaxDegreeOfParallelism = 2;
        (float[] p, float[][] g) = Data(ParallelLength, 1);
        for (int s = 0; s < 5; s++)
        {
            optimizer.Step(p, g[0]);
        }

        // Work runs on pool threads too, so count every thread's allocations. Other threads of the process (the test
        // host, the thread pool injecting a worker on a loaded 2-core machine) may allocate meanwhile: take the least
        // of many short windows. A step that allocates makes every window non-zero, however many there are.
        long least = long.MaxValue;
        for (int attempt = 0; attempt < 25 && least != 0; attempt++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int s = 0; s < 2; s++)
            {
                optimizer.Step(p, g[0]);
            }

            least = Math.Min(least, GC.GetTotalAllocatedBytes(precise: true) - before);
        }

        Assert.Equal(0, least);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(1000)]
    [InlineData(1024)]
    [InlineData(4096)]
    [InlineData(1 << 20)]
    [InlineData((1 << 20) + 3)]
    public unsafe void StatePlanesAre64ByteAlignedAndStaggeredInThePage(int length)
    {
        var amsgrad = new AmsGradAdam(length);
        nint[] addresses = new nint[amsgrad.Descriptor.States.Count];
        Assert.Equal(3, addresses.Length);
        for (int k = 0; k < addresses.Length; k++)
        {
            ReadOnlySpan<float> plane = amsgrad.GetState(amsgrad.Descriptor.States[k].Name);
            Assert.Equal(length, plane.Length);
            addresses[k] = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(plane));
            Assert.Equal(0, addresses[k] % 64);
        }

        // Consecutive planes sit at different offsets within the 4 KiB page: all pairwise distinct.
        for (int a = 0; a < addresses.Length; a++)
        {
            for (int b = a + 1; b < addresses.Length; b++)
            {
                Assert.NotEqual(addresses[a] % 4096, addresses[b] % 4096);
                long gap = addresses[b] - addresses[a];
                Assert.True(gap >= (long)length * sizeof(float) * (b - a), "planes overlap");
            }
        }
    }

    [Fact]
    public void StateStaysAlignedAcrossManyAllocations()
    {
        // The alignment is fixed up per allocation, whatever address the GC hands out.
        for (int i = 0; i < 64; i++)
        {
            var adam = new Adam(100 + i);
            Assert.All(new[] { "FirstMoment", "SecondMoment" }, name => Assert.Equal(0, AddressOf(adam.GetState(name)) % 64));
        }
    }

    private static unsafe nint AddressOf(ReadOnlySpan<float> span) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(span));

    [Theory]
    [InlineData(0)]
    [InlineData(-2)]
    public void InvalidMaxDegreeOfParallelismIsRejectedAndKept(int value)
    {
        var adam = new Adam(4) { MaxDegreeOfParallelism = 3 };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => adam.MaxDegreeOfParallelism = value);
        Assert.Equal("value", e.ParamName);
        Assert.Equal(3, adam.MaxDegreeOfParallelism);
        Assert.Throws<ArgumentOutOfRangeException>(() => ParallelUpdate.DefaultMaxDegreeOfParallelism = 0);
    }

    [Theory]
    [InlineData(0, 8, 1)]
    [InlineData((2 * ParallelUpdate.MinimumElementsPerThread) - 1, 8, 1)]
    [InlineData(2 * ParallelUpdate.MinimumElementsPerThread, 8, 2)]
    [InlineData(2 * ParallelUpdate.MinimumElementsPerThread, 1, 1)]
    [InlineData(64 * ParallelUpdate.MinimumElementsPerThread, 8, 8)]
    [InlineData(64 * ParallelUpdate.MinimumElementsPerThread, 3, 3)]
    public void ThreadCountFollowsSizeAndLimit(int length, int limit, int expected)
    {
        Assert.Equal(expected, ParallelUpdate.ThreadsFor((nuint)length, limit));
    }
}
