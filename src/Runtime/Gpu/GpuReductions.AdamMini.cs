using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Engine;

namespace OptGen.Gpu;

/// <summary>
/// <see cref="AdamMini"/> on the device: (1) one thread group per block (a row, or <c>BlockSize</c> elements): the
/// block's Σ(g·scale)² from 256 virtual lanes and the fixed tree of <see cref="GpuReductions"/>, then
/// v_b ← β₂v_b + (1 − β₂)·mean, as the CPU; (2) m and p per element with the block's stored v_b. The state is the
/// host's compact layout (m per element, v_b per block, <see cref="AdamMini.BlockLengthOf"/>).
/// </summary>
/// <remarks>The blocks are fixed when the GPU optimizer is created: a step after a group's <c>BlockSize</c> changed is refused.</remarks>
internal sealed class GpuAdamMini : GpuPassUpdate<GpuAdamMini.Scalars>
{
    private static readonly ConditionalWeakTable<Accelerator, Kernels> Loaded = new();
    private readonly Kernels _kernels;
    private readonly AdamMini _optimizer;
    private readonly double[] _blockSizes;
    private MemoryBuffer1D<Block, Stride1D.Dense>? _blocks;
    private MemoryBuffer1D<TensorBlocks, Stride1D.Dense>? _tensorBlocks;

    public GpuAdamMini(AdamMini optimizer, Accelerator accelerator, int groups)
        : base(accelerator, groups, static (h, _, step, _) => Scalars.Of(h, step), width: 0)
    {
        _optimizer = optimizer;
        _blockSizes = new double[groups];
        _kernels = Loaded.GetValue(accelerator, static a => new Kernels(
            a.LoadKernel<ArrayView<Block>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch>(Reduce),
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
        for (int j = 0, b = 0; j < layout.TensorCount; j++)
        {
            int size = perTensor[j].Length;
            for (int start = 0, index = 0; start < layout.LengthOf(j); start += size, index++)
            {
                blocks[b++] = new Block(layout.ArenaOffsetOf(j) + (long)start, Math.Min(size, layout.LengthOf(j) - start), perTensor[j].StateStart + index, layout.GroupOf(j));
            }
        }

        BlockCount = count;
        _blocks = Accelerator.Allocate1D(blocks);
        _tensorBlocks = Accelerator.Allocate1D(perTensor);
    }

    private int BlockCount { get; set; }

    private protected override void DisposeRule()
    {
        _blocks?.Dispose();
        _tensorBlocks?.Dispose();
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
        var config = new KernelConfig(Math.Clamp(Accelerator.MaxNumThreads / ReduceConfig.GroupDim.X, 1, Math.Max(1, BlockCount)), ReduceConfig.GroupDim.X);
        _kernels.Reduce(stream, config, _blocks!.View.BaseView, Groups, table, views.Factor, views.Gradients32, views.Gradients16, views.State32, views.State16, launch);
        _kernels.Update(stream, threads, views.Chunks, _tensorBlocks!.View.BaseView, Groups, table, views.Factor, views.Parameters32, views.Parameters16, views.Gradients32, views.Gradients16, views.State32, views.State16, launch);
    }

    /// <summary>Pass 1 (explicitly grouped, a grid-stride loop over the blocks): v_b from the block's mean of (g·scale)².</summary>
    internal static void Reduce(ArrayView<Block> blocks, GpuGroups<Scalars> groups, ArrayView<Scalars> table, ArrayView<float> factor, ArrayView<float> g32, ArrayView<ushort> g16, ArrayView<float> s32, ArrayView<ushort> s16, GpuLaunch launch)
    {
        ArrayView<double> shared = SharedMemory.Allocate<double>(GpuReductions.Lanes);
        float gradientFactor = GpuReductions.GradientFactor(factor, launch);
        for (int c = Grid.IdxX; c < blocks.IntLength; c += Grid.DimX)
        {
            Block block = blocks[c];
            for (int l = Group.IdxX; l < GpuReductions.Lanes; l += Group.DimX)
            {
                double sum = 0;
                for (int i = l; i < block.Length; i += GpuReductions.Lanes)
                {
                    double g = GpuElements.Load(launch.GradientCodec, g32, g16, block.ArenaStart + i) * gradientFactor;
                    sum += g * g;
                }

                shared[l] = sum;
            }

            GpuReductions.Tree(shared, 1, 0);
            if (Group.IdxX == 0)
            {
                Scalars k = groups.Count <= GpuGroups<Scalars>.MaxByValue ? groups.Get(block.Group) : table[block.Group];
                long v = launch.StateStride + block.StateIndex;
                GpuElements.Store(launch.StateCodec, s32, s16, v, (k.B2 * GpuElements.Load(launch.StateCodec, s32, s16, v)) + (k.C2 * (float)(shared[0] / block.Length)), launch, 0, 0);
            }

            Group.Barrier();
        }
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

    /// <summary>One block of the device table.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal readonly record struct Block(long ArenaStart, int Length, int StateIndex, int Group);

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
        Action<AcceleratorStream, KernelConfig, ArrayView<Block>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch> Reduce,
        Action<AcceleratorStream, Index1D, ArrayView<GpuChunk>, ArrayView<TensorBlocks>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch> Update);
}
