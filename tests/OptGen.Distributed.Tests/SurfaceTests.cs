using System;
using System.Linq;
using System.Runtime.InteropServices;
using OptGen.Distributed;
using Xunit;

namespace OptGen.Distributed.Tests;

/// <summary>
/// The sharded optimizer's step surface beyond float32 arenas, on the in-process group: float32 parameters with
/// 16-bit gradients against one process, and the per-tensor (<see cref="Memory{T}"/>) overloads against the arena
/// ones; argument errors before anything is communicated.
/// </summary>
public class SurfaceTests
{
    private const int Steps = 10;

    [Theory]
    [InlineData(1, "half")]
    [InlineData(2, "half")]
    [InlineData(3, "half")]
    [InlineData(1, "bfloat16")]
    [InlineData(2, "bfloat16")]
    [InlineData(4, "bfloat16")]
    public void Float32ParametersWithSixteenBitGradientsStepAsOneProcessOnTheFloat32Average(int ranks, string format)
    {
        bool half = format == "half";
        Func<float, float> round = half ? f => (float)(Half)f : f => (float)(BFloat16)f;
        ParameterLayout layout = Scenario.Model();
        int n = layout.TotalLength;
        var initial = new float[n];
        Scenario.InitialParameters(initial);

        // The reference: one process, float32 parameters, on the rank-order float32 sum of the ranks' 16-bit
        // gradients (widened exactly) with the 1/R in the gradient factor.
        Adam single = Scenario.Create(layout);
        float[] reference = (float[])initial.Clone();
        var g = new float[n];
        var sum = new float[n];
        for (int step = 1; step <= Steps; step++)
        {
            Array.Clear(sum);
            for (int r = 0; r < ranks; r++)
            {
                Scenario.Gradient(r, step, g);
                for (int i = 0; i < n; i++)
                {
                    sum[i] += round(g[i]);
                }
            }

            single.Step(reference, sum, new StepOptions { GradientScale = 1.0 / ranks });
        }

        float[][] results = InProcessTests.OnRanks(ranks, c =>
        {
            var sharded = new ShardedOptimizer<Adam>(c, layout, Scenario.Create);
            float[] p = (float[])initial.Clone();
            var mine = new float[n];
            for (int step = 1; step <= Steps; step++)
            {
                Scenario.Gradient(c.Rank, step, mine);
                _ = half ? sharded.Step(p, mine.Select(x => (Half)x).ToArray()) : sharded.Step(p, mine.Select(x => (BFloat16)x).ToArray());
            }

            return p;
        });

        Assert.NotEqual(Bits(initial), Bits(reference));
        Assert.All(results, p => Assert.Equal(Bits(reference), Bits(p)));
        if (ranks == 1)
        {
            // And one process's own mixed-precision step (float32 parameters, 16-bit gradients) is that reference.
            Adam mixed = Scenario.Create(layout);
            float[] p = (float[])initial.Clone();
            for (int step = 1; step <= Steps; step++)
            {
                Scenario.Gradient(0, step, g);
                _ = half ? mixed.Step(p, g.Select(x => (Half)x).ToArray()) : mixed.Step(p, g.Select(x => (BFloat16)x).ToArray());
            }

            Assert.Equal(Bits(reference), Bits(p));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void PerTensorBuffersStepAsTheArenaForEveryFormat(int ranks)
    {
        TensorsMatchArena(ranks, f => f, f => f, (o, p, g, s) => o.Step(p, g, s), (o, p, g, s) => o.Step(p, g, s));
        TensorsMatchArena(ranks, f => f, f => (Half)f, (o, p, g, s) => o.Step(p, g, s), (o, p, g, s) => o.Step(p, g, s));
        TensorsMatchArena(ranks, f => f, f => (BFloat16)f, (o, p, g, s) => o.Step(p, g, s), (o, p, g, s) => o.Step(p, g, s));
        TensorsMatchArena(ranks, f => (Half)f, f => (Half)f, (o, p, g, s) => o.Step(p, g, s), (o, p, g, s) => o.Step(p, g, s));
        TensorsMatchArena(ranks, f => (BFloat16)f, f => (BFloat16)f, (o, p, g, s) => o.Step(p, g, s), (o, p, g, s) => o.Step(p, g, s));
    }

    [Fact]
    public void BadArgumentsThrowBeforeAnythingIsCommunicatedOrWritten()
    {
        ParameterLayout layout = Scenario.Model();
        InProcessTests.OnRanks(2, c =>
        {
            var counting = new CountingCommunicator(c);
            var sharded = new ShardedOptimizer<Adam>(counting, layout, Scenario.Create);
            int calls = counting.Calls;
            float[][] p = Enumerable.Range(0, layout.TensorCount).Select(j => Enumerable.Repeat(1f, layout.LengthOf(j)).ToArray()).ToArray();
            Half[][] g = Enumerable.Range(0, layout.TensorCount).Select(j => new Half[layout.LengthOf(j)]).ToArray();
            Memory<float>[] parameters = p.Select(x => new Memory<float>(x)).ToArray();
            ReadOnlyMemory<Half>[] gradients = g.Select(x => new ReadOnlyMemory<Half>(x)).ToArray();

            string? Param(Action step) => Assert.Throws<ArgumentException>(step).ParamName;
            Assert.Equal("parameters", Param(() => sharded.Step(parameters.AsSpan(1), gradients)));
            Assert.Equal("gradients", Param(() => sharded.Step(parameters, gradients.AsSpan(1))));
            Memory<float>[] shortTensor = (Memory<float>[])parameters.Clone();
            shortTensor[4] = shortTensor[4][1..];
            Assert.Equal("parameters", Param(() => sharded.Step(shortTensor, gradients)));

            // A gradient tensor inside a parameter tensor; two parameter tensors sharing memory.
            ReadOnlyMemory<float>[] inside = p.Select(x => new ReadOnlyMemory<float>(new float[x.Length])).ToArray();
            inside[2] = new ReadOnlyMemory<float>(p[1], 0, layout.LengthOf(2));
            Assert.Equal("gradients", Param(() => sharded.Step(parameters, inside)));
            Memory<float>[] shared = (Memory<float>[])parameters.Clone();
            shared[2] = new Memory<float>(p[1], 1, layout.LengthOf(2));
            Assert.Equal("parameters", Param(() => sharded.Step(shared, inside.Select((x, j) => j == 2 ? new ReadOnlyMemory<float>(new float[x.Length]) : x).ToArray())));

            // Arenas: a short gradient arena, overlapping arenas.
            var arena = new float[layout.TotalLength];
            Assert.Equal("gradients", Param(() => sharded.Step(arena, new BFloat16[layout.TotalLength - 1])));
            Assert.Equal("parameters", Param(() => sharded.Step(new Half[layout.TotalLength + 1], new Half[layout.TotalLength])));
            Assert.Equal("gradients", Param(() => sharded.Step(arena.AsSpan(), MemoryMarshal.Cast<float, Half>(arena.AsSpan())[..layout.TotalLength])));

            Assert.Equal(calls, counting.Calls);
            Assert.Equal(0, sharded.Local.StepCount);
            Assert.All(p, x => Assert.All(x, v => Assert.Equal(1f, v)));
            return 0;
        });
    }

    [Fact]
    public async System.Threading.Tasks.Task ASecondCallWhileAStepRunsThrowsInsteadOfSharingItsBuffers()
    {
        // A one-process group whose reduce-scatter waits until released: the first step is inside its collectives
        // while another thread calls Step (arena and per-tensor) and the checkpoint members.
        var communicator = new HeldCommunicator();
        var sharded = new ShardedOptimizer<Sgd>(communicator, ParameterLayout.Single(64), l => new Sgd(l) { LearningRate = 0.5 });
        var p = new float[64];
        var g = Enumerable.Repeat(1f, 64).ToArray();
        var first = System.Threading.Tasks.Task.Run(() => sharded.Step(p, g));
        Assert.True(communicator.Entered.Wait(TimeSpan.FromSeconds(30)));
        Assert.Contains("another step or checkpoint call", Assert.Throws<InvalidOperationException>(() => sharded.Step(new float[64], g)).Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => sharded.Step([new Memory<float>(new float[64])], [new ReadOnlyMemory<float>(g)]));
        Assert.Throws<InvalidOperationException>(() => sharded.SaveCheckpoint(System.IO.Path.GetTempPath()));
        Assert.Throws<InvalidOperationException>(() => sharded.LoadCheckpoint(System.IO.Path.GetTempPath()));
        communicator.Release.Set();
        Assert.False((await first).Skipped);
        Assert.All(p, v => Assert.Equal(-0.5f, v));

        // Free again: the next step runs (and is not held).
        sharded.Step(p, g);
        Assert.All(p, v => Assert.Equal(-1f, v));
    }

    private delegate StepResult ArenaStep<TP, TG>(ShardedOptimizer<Adam> optimizer, TP[] parameters, TG[] gradients, StepOptions options);

    private delegate StepResult TensorStep<TP, TG>(ShardedOptimizer<Adam> optimizer, Memory<TP>[] parameters, ReadOnlyMemory<TG>[] gradients, StepOptions options);

    /// <summary>
    /// Two sharded optimizers per rank, one stepped on arenas and one on separate buffers per tensor (gradients as
    /// slices of an arena) with the same values, clipping and stochastic rounding on: the same bits.
    /// </summary>
    private static void TensorsMatchArena<TP, TG>(int ranks, Func<float, TP> toParameter, Func<float, TG> toGradient, ArenaStep<TP, TG> arenaStep, TensorStep<TP, TG> tensorStep)
        where TP : unmanaged
        where TG : unmanaged
    {
        ParameterLayout layout = Scenario.Model();
        int n = layout.TotalLength;
        var initial = new float[n];
        Scenario.InitialParameters(initial);
        var options = new StepOptions { MaxGradientNorm = 2, StochasticRounding = true, RoundingSeed = 3 };
        var results = InProcessTests.OnRanks(ranks, c =>
        {
            var arena = new ShardedOptimizer<Adam>(c, layout, Scenario.Create);
            var tensors = new ShardedOptimizer<Adam>(c, layout, Scenario.Create);
            TP[] pa = initial.Select(toParameter).ToArray();
            TP[][] pt = Enumerable.Range(0, layout.TensorCount).Select(j => pa.AsSpan(layout.ArenaOffsetOf(j), layout.LengthOf(j)).ToArray()).ToArray();
            var mine = new float[n];
            for (int step = 1; step <= Steps; step++)
            {
                Scenario.Gradient(c.Rank, step, mine);
                TG[] g = mine.Select(toGradient).ToArray();
                StepResult a = arenaStep(arena, pa, g, options);
                StepResult t = tensorStep(tensors, pt.Select(x => new Memory<TP>(x)).ToArray(), Enumerable.Range(0, layout.TensorCount).Select(j => new ReadOnlyMemory<TG>(g, layout.ArenaOffsetOf(j), layout.LengthOf(j))).ToArray(), options);
                Assert.Equal(a, t);
            }

            return (Arena: Bits(pa), Tensors: Bits(pt.SelectMany(x => x).ToArray()));
        });

        Assert.NotEqual(Bits(initial.Select(toParameter).ToArray()), results[0].Arena);
        Assert.All(results, r => Assert.Equal(results[0].Arena, r.Arena));
        Assert.All(results, r => Assert.Equal(r.Arena, r.Tensors));
    }

    private static byte[] Bits<T>(T[] values)
        where T : unmanaged => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    /// <summary>A one-process <see cref="ICommunicator"/> whose first reduce-scatter signals <see cref="Entered"/> and waits for <see cref="Release"/>.</summary>
    private sealed class HeldCommunicator : ICommunicator
    {
        public System.Threading.ManualResetEventSlim Entered { get; } = new();

        public System.Threading.ManualResetEventSlim Release { get; } = new();

        public int Rank => 0;

        public int Size => 1;

        public void AllReduceSum(Span<double> values)
        {
        }

        public void ReduceScatterSum(ReadOnlySpan<float> send, Span<float> receive, ReadOnlySpan<int> counts)
        {
            if (!Entered.IsSet)
            {
                Entered.Set();
                Assert.True(Release.Wait(TimeSpan.FromSeconds(30)));
            }

            send.CopyTo(receive);
        }

        public void AllGather(Span<float> buffer, ReadOnlySpan<int> counts)
        {
        }

        public void AllGather(Span<ushort> buffer, ReadOnlySpan<int> counts)
        {
        }

        public void AllGather<T>(ReadOnlySpan<T> mine, Span<T> all)
            where T : unmanaged => mine.CopyTo(all);

        public void Barrier()
        {
        }
    }
}
