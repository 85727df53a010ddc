using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Engine;

namespace OptGen.Gpu;

/// <summary>
/// <see cref="AdamMini"/> on the device: (1) each block's (a row's, or <c>BlockSize</c> elements') Σ(g·scale)² added
/// in the CPU's order (<see cref="SquareLanes"/>, below), then v_b ← β₂v_b + (1 − β₂)·mean, as the CPU; (2) m and p per
/// element with the block's stored v_b. The state is the host's compact layout (m per element, v_b per block,
/// <see cref="AdamMini.BlockLengthOf"/>).
/// </summary>
/// <remarks>
/// <para>The CPU sums a block (always inside one work unit) in 16 chains and a tail: chain c (0 … 15) adds, in double
/// and in order from 0, elements c, c + 16, … below the block's whole eights (the 8 lanes of the even and the odd
/// accumulator; a run of 8 left after the whole sixteens falls to chains 0 … 7), the tail the last n mod 8 elements;
/// then (((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))) + tail with s_k = chain k + chain k + 8. The device adds
/// the same values in the same order, so v_b, and with it the step, is the CPU's bit for bit on ILGPU's CPU accelerator
/// (on a GPU the sums are exact as well, since a widened float's square is exact in double, but ptxas may fuse the float32
/// multiply-adds of the moment updates): a block shorter than
/// <see cref="LongBlock"/> is one thread's (<see cref="Blocks"/>: no lanes idle, no barrier), a longer one's 16 chains
/// are 16 threads' first (<see cref="Chains"/>) and its thread in <see cref="Blocks"/> folds them.</para>
/// <para>The blocks are fixed when the GPU optimizer is created: a step after a group's <c>BlockSize</c> changed is refused.</para>
/// </remarks>
internal sealed class GpuAdamMini : GpuPassUpdate<GpuAdamMini.Scalars>
{
    private static readonly ConditionalWeakTable<Accelerator, Kernels> Loaded = new();
    private readonly Kernels _kernels;
    private readonly AdamMini _optimizer;
    private readonly double[] _blockSizes;
    private MemoryBuffer1D<Block, Stride1D.Dense>? _blocks;
    private MemoryBuffer1D<TensorBlocks, Stride1D.Dense>? _tensorBlocks;
    private MemoryBuffer1D<Block, Stride1D.Dense>? _longBlocks;
    private MemoryBuffer1D<double, Stride1D.Dense>? _chains;

    public GpuAdamMini(AdamMini optimizer, Accelerator accelerator, int groups)
        : base(accelerator, groups, static (h, _, step, _) => Scalars.Of(h, step), width: 0)
    {
        _optimizer = optimizer;
        _blockSizes = new double[groups];
        _kernels = Loaded.GetValue(accelerator, static a => new Kernels(
            a.LoadAutoGroupedKernel<Index1D, ArrayView<Block>, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, GpuLaunch>(Chains),
            a.LoadAutoGroupedKernel<Index1D, ArrayView<Block>, ArrayView<double>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch>(Blocks),
            a.LoadAutoGroupedKernel<Index1D, ArrayView<GpuChunk>, ArrayView<TensorBlocks>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch>(Update)));
    }

    private protected override void BindRule(ParameterLayout layout)
    {
        StateStorage storage = _optimizer.StateStorage;
        var perTensor = new TensorBlocks[Math.Max(1, layout.TensorCount)];
        int count = 0;
        for (int k = 0; k < _blockSizes.Length; k++)
        {
            _blockSizes[k] = _optimizer.GetGroupHyperparameter(k, "BlockSize");
        }

        for (int j = 0; j < layout.TensorCount; j++)
        {
            int block = _optimizer.BlockLengthOf(j, _blockSizes[layout.GroupOf(j)]);
            if (storage.LengthOf(1, j, layout) != (layout.LengthOf(j) + (long)block - 1) / block)
            {
                throw new ArgumentException("The Adam-mini's state is shaped for another BlockSize (its reshape happens at its next step, Reset or SaveCheckpoint); reshape it before handing it to the GPU optimizer.", "optimizer");
            }

            perTensor[j] = new TensorBlocks(block, storage.OffsetOf(0, j, layout), storage.OffsetOf(1, j, layout));
            count += (int)((layout.LengthOf(j) + (long)block - 1) / block);
        }

        var blocks = new Block[Math.Max(1, count)];
        int longCount = 0;
        for (int j = 0, b = 0; j < layout.TensorCount; j++)
        {
            int size = perTensor[j].Length;
            for (int start = 0, index = 0; start < layout.LengthOf(j); start += size, index++)
            {
                int length = Math.Min(size, layout.LengthOf(j) - start);
                blocks[b++] = new Block(layout.ArenaOffsetOf(j) + (long)start, length, perTensor[j].StateStart + index, layout.GroupOf(j), length >= LongBlock ? longCount++ : -1);
            }
        }

        var longBlocks = new Block[Math.Max(1, longCount)];
        foreach (Block block in blocks.AsSpan(0, count))
        {
            if (block.Chains >= 0)
            {
                longBlocks[block.Chains] = block;
            }
        }

        BlockCount = count;
        LongBlockCount = longCount;
        _blocks = Accelerator.Allocate1D(blocks);
        _tensorBlocks = Accelerator.Allocate1D(perTensor);
        _longBlocks = Accelerator.Allocate1D(longBlocks);
        _chains = Accelerator.Allocate1D<double>(Math.Max(1L, (long)longCount * ChainCount));
    }

    /// <summary>The length from which a block's chains are 16 threads' (below it one thread adds the whole block: at most 255 elements).</summary>
    internal const int LongBlock = 256;

    /// <summary>The chains of a block sum (<see cref="SquareLanes"/>' 2 × 8 double lanes).</summary>
    private const int ChainCount = 16;

    private int BlockCount { get; set; }

    private int LongBlockCount { get; set; }

    private protected override void DisposeRule()
    {
        _blocks?.Dispose();
        _tensorBlocks?.Dispose();
        _longBlocks?.Dispose();
        _chains?.Dispose();
    }

    private protected override void CheckGroup(int group, ReadOnlySpan<double> hyperparameters)
    {
        if (hyperparameters[5] != _blockSizes[group])
        {
            throw new NotSupportedException($"Group {group}'s BlockSize changed from {_blockSizes[group]:R} to {hyperparameters[5]:R} while a GpuOptimizer drives this Adam-mini; the device blocks are fixed when it is created. Nothing was written.");
        }
    }

    private protected override void RunPasses(AcceleratorStream stream, int threads, in GpuUpdateViews views, GpuLaunch launch, ArrayView<Scalars> table)
    {
        if (LongBlockCount > 0)
        {
            _kernels.Chains(stream, LongBlockCount * ChainCount, _longBlocks!.View.BaseView, _chains!.View.BaseView, views.Factor, views.Gradients32, views.Gradients16, launch);
        }

        if (BlockCount > 0)
        {
            _kernels.Blocks(stream, BlockCount, _blocks!.View.BaseView, _chains!.View.BaseView, Groups, table, views.Factor, views.Gradients32, views.Gradients16, views.State32, views.State16, launch);
        }

        _kernels.Update(stream, threads, views.Chunks, _tensorBlocks!.View.BaseView, Groups, table, views.Factor, views.Parameters32, views.Parameters16, views.Gradients32, views.Gradients16, views.State32, views.State16, launch);
    }

    /// <summary>Pass 1a, one thread per (block of at least <see cref="LongBlock"/> elements, chain): the chain's sum.</summary>
    internal static void Chains(Index1D index, ArrayView<Block> longBlocks, ArrayView<double> chains, ArrayView<float> factor, ArrayView<float> g32, ArrayView<ushort> g16, GpuLaunch launch) =>
        chains[index] = Chain(longBlocks[index / ChainCount], index % ChainCount, GpuReductions.GradientFactor(factor, launch), g32, g16, launch);

    /// <summary>
    /// Pass 1b, one thread per block: Σ(g·scale)² in the CPU's order (the chains from <see cref="Chains"/> for a long
    /// block, else added here), then v_b ← β₂v_b + (1 − β₂)·mean.
    /// </summary>
    internal static void Blocks(Index1D index, ArrayView<Block> blocks, ArrayView<double> chains, GpuGroups<Scalars> groups, ArrayView<Scalars> table, ArrayView<float> factor, ArrayView<float> g32, ArrayView<ushort> g16, ArrayView<float> s32, ArrayView<ushort> s16, GpuLaunch launch)
    {
        Block block = blocks[index];
        float gradientFactor = GpuReductions.GradientFactor(factor, launch);
        double s0 = Lane(block, 0, chains, gradientFactor, g32, g16, launch), s1 = Lane(block, 1, chains, gradientFactor, g32, g16, launch);
        double s2 = Lane(block, 2, chains, gradientFactor, g32, g16, launch), s3 = Lane(block, 3, chains, gradientFactor, g32, g16, launch);
        double s4 = Lane(block, 4, chains, gradientFactor, g32, g16, launch), s5 = Lane(block, 5, chains, gradientFactor, g32, g16, launch);
        double s6 = Lane(block, 6, chains, gradientFactor, g32, g16, launch), s7 = Lane(block, 7, chains, gradientFactor, g32, g16, launch);
        double tail = 0;
        for (int i = block.Length & ~7; i < block.Length; i++)
        {
            double g = GpuElements.Load(launch.GradientCodec, g32, g16, block.ArenaStart + i) * gradientFactor;
            tail += g * g;
        }

        double sum = (((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))) + tail;
        Scalars k = groups.Count <= GpuGroups<Scalars>.MaxByValue ? groups.Get(block.Group) : table[block.Group];
        long v = launch.StateStride + block.StateIndex;
        GpuElements.Store(launch.StateCodec, s32, s16, v, (k.B2 * GpuElements.Load(launch.StateCodec, s32, s16, v)) + (k.C2 * (float)(sum / block.Length)), launch, 0, 0);
    }

    /// <summary>Lane <paramref name="k"/> (0 … 7) of the folded accumulators: chain k + chain k + 8.</summary>
    private static double Lane(Block block, int k, ArrayView<double> chains, float gradientFactor, ArrayView<float> g32, ArrayView<ushort> g16, GpuLaunch launch) =>
        block.Chains >= 0
            ? chains[((long)block.Chains * ChainCount) + k] + chains[((long)block.Chains * ChainCount) + k + 8]
            : Chain(block, k, gradientFactor, g32, g16, launch) + Chain(block, k + 8, gradientFactor, g32, g16, launch);

    /// <summary>Chain <paramref name="c"/> of a block: Σ(g·scale)² over elements c, c + 16, … below the block's whole eights, in order from 0.</summary>
    private static double Chain(Block block, int c, float gradientFactor, ArrayView<float> g32, ArrayView<ushort> g16, GpuLaunch launch)
    {
        double sum = 0;
        for (int i = c; i < (block.Length & ~7); i += ChainCount)
        {
            double g = GpuElements.Load(launch.GradientCodec, g32, g16, block.ArenaStart + i) * gradientFactor;
            sum += g * g;
        }

        return sum;
    }

    /// <summary>Pass 2 (grid-stride over the chunks): m per element, p ← p(1 − ηλ) − η/(1 − β₁ᵗ)·m/(√v_b/√(1 − β₂ᵗ) + ε).</summary>
    internal static void Update(Index1D index, ArrayView<GpuChunk> chunks, ArrayView<TensorBlocks> tensors, GpuGroups<Scalars> groups, ArrayView<Scalars> table, ArrayView<float> factor, ArrayView<float> p32, ArrayView<ushort> p16, ArrayView<float> g32, ArrayView<ushort> g16, ArrayView<float> s32, ArrayView<ushort> s16, GpuLaunch launch)
    {
        float gradientFactor = GpuReductions.GradientFactor(factor, launch);
        for (long x = index; x < GpuReductions.End(chunks); x += launch.Stride)
        {
            if (!GpuReductions.TryElement(chunks, x, out GpuChunk chunk, out int local))
            {
                continue;
            }

            Scalars k = groups.Count <= GpuGroups<Scalars>.MaxByValue ? groups.Get(chunk.Group) : table[chunk.Group];
            TensorBlocks blocks = tensors[chunk.Tensor];
            int t = chunk.TensorStart + local;
            long e = chunk.ArenaStart + local, m = blocks.MomentStart + t;
            float denom = (MathF.Sqrt(GpuElements.Load(launch.StateCodec, s32, s16, launch.StateStride + blocks.StateStart + (t / blocks.Length))) / k.Bc2) + k.Epsilon;
            float g = GpuElements.Load(launch.GradientCodec, g32, g16, e) * gradientFactor;
            GpuElements.Store(launch.StateCodec, s32, s16, m, (k.B1 * GpuElements.Load(launch.StateCodec, s32, s16, m)) + (k.C1 * g), launch, chunk.Tensor, t);
            float p = GpuElements.Load(launch.ParameterCodec, p32, p16, e) * k.Decay;
            GpuElements.Store(launch.ParameterCodec, p32, p16, e, p - (k.StepSize * (GpuElements.Load(launch.StateCodec, s32, s16, m) / denom)), launch, chunk.Tensor, t);
        }
    }

    /// <summary>One block of the device table; <c>Chains</c>: its place among the long blocks (its chains' slot), or −1.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal readonly record struct Block(long ArenaStart, int Length, int StateIndex, int Group, int Chains);

    /// <summary>Per tensor: its block length, its first m (plane 0) and its first v_b (plane 1) in the compact state.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal readonly record struct TensorBlocks(int Length, int MomentStart, int StateStart);

    /// <summary>One group's per-step values, as the CPU passes compute them.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Scalars
    {
        public float B1, C1, B2, C2, Epsilon, Decay, StepSize, Bc2;

        public static Scalars Of(ReadOnlySpan<double> h, long step) => new()
        {
            B1 = (float)h[1],
            C1 = (float)(1 - h[1]),
            B2 = (float)h[2],
            C2 = (float)(1 - h[2]),
            Epsilon = (float)h[3],
            Decay = (float)(1 - (h[0] * h[4])),
            StepSize = (float)(h[0] / (1 - Math.Pow(h[1], step))),
            Bc2 = (float)Math.Sqrt(1 - Math.Pow(h[2], step)),
        };
    }

    private sealed record Kernels(
        Action<AcceleratorStream, Index1D, ArrayView<Block>, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, GpuLaunch> Chains,
        Action<AcceleratorStream, Index1D, ArrayView<Block>, ArrayView<double>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch> Blocks,
        Action<AcceleratorStream, Index1D, ArrayView<GpuChunk>, ArrayView<TensorBlocks>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch> Update);
}
