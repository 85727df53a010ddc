using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Engine;

namespace OptGen.Gpu;

/// <summary>
/// <see cref="Lamb"/> on the device: (1) m, v, r per element with Σp², Σr² per chunk (the fixed tree of
/// <see cref="GpuReductions"/>); (2) one thread per tensor adds its chunks in order and computes η·trust; (3) r again
/// from the stored m, v and p, p ← p − η·trust·r. The element formulas are the CPU's (<see cref="ReductionFormulas"/>).
/// </summary>
internal sealed class GpuLamb : GpuPassUpdate<GpuLamb.Scalars>
{
    private static readonly ConditionalWeakTable<Accelerator, Kernels> Loaded = new();
    private readonly Kernels _kernels;

    public GpuLamb(Accelerator accelerator, int groups)
        : base(accelerator, groups, static (h, _, step, _) => Scalars.Of(h, step), width: 2)
    {
        _kernels = Loaded.GetValue(accelerator, static a => new Kernels(
            a.LoadKernel<ArrayView<GpuChunk>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<double>, GpuLaunch>(Reduce),
            a.LoadAutoGroupedKernel<Index1D, ArrayView<GpuTensorSpan>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<double>, ArrayView<float>>(Finish),
            a.LoadAutoGroupedKernel<Index1D, ArrayView<GpuChunk>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch>(Update)));
    }

    private protected override void RunPasses(AcceleratorStream stream, int threads, in GpuUpdateViews views, GpuLaunch launch, ArrayView<Scalars> table)
    {
        ArrayView<float> factor = TensorFactors;
        _kernels.Reduce(stream, ReduceConfig, views.Chunks, Groups, table, views.Factor, views.Parameters32, views.Parameters16, views.Gradients32, views.Gradients16, views.State32, views.State16, Partials, launch);
        _kernels.Finish(stream, TensorCount, Tensors, Groups, table, Partials, factor);
        _kernels.Update(stream, threads, views.Chunks, Groups, table, factor, views.Parameters32, views.Parameters16, views.State32, views.State16, launch);
    }

    /// <summary>Pass 1 (explicitly grouped): m and v stored, r from the stored moments; Σp², Σr² per chunk.</summary>
    internal static void Reduce(ArrayView<GpuChunk> chunks, GpuGroups<Scalars> groups, ArrayView<Scalars> table, ArrayView<float> factor, ArrayView<float> p32, ArrayView<ushort> p16, ArrayView<float> g32, ArrayView<ushort> g16, ArrayView<float> s32, ArrayView<ushort> s16, ArrayView<double> partials, GpuLaunch launch)
    {
        ArrayView<double> shared = SharedMemory.Allocate<double>(2 * GpuReductions.Lanes);
        float gradientFactor = GpuReductions.GradientFactor(factor, launch);
        for (int c = Grid.IdxX; c < chunks.IntLength; c += Grid.DimX)
        {
            GpuChunk chunk = chunks[c];
            Scalars k = groups.Count <= GpuGroups<Scalars>.MaxByValue ? groups.Get(chunk.Group) : table[chunk.Group];
            for (int l = Group.IdxX; l < GpuReductions.Lanes; l += Group.DimX)
            {
                double sp = 0, sr = 0;
                for (int i = l; i < chunk.Length; i += GpuReductions.Lanes)
                {
                    long e = chunk.ArenaStart + i, s = chunk.StateStart + i, sv = launch.StateStride + s;
                    float p = GpuElements.Load(launch.ParameterCodec, p32, p16, e);
                    float g = GpuElements.Load(launch.GradientCodec, g32, g16, e) * gradientFactor;
                    float m = (k.B1 * GpuElements.Load(launch.StateCodec, s32, s16, s)) + (k.C1 * g);
                    float v = (k.B2 * GpuElements.Load(launch.StateCodec, s32, s16, sv)) + (k.C2 * g * g);
                    GpuElements.Store(launch.StateCodec, s32, s16, s, m, launch, chunk.Tensor, chunk.TensorStart + i);
                    GpuElements.Store(launch.StateCodec, s32, s16, sv, v, launch, chunk.Tensor, chunk.TensorStart + i);

                    // The stored (possibly bfloat16) moments, as pass 3 reads them.
                    float r = ReductionFormulas.LambDirection(GpuElements.Load(launch.StateCodec, s32, s16, s), GpuElements.Load(launch.StateCodec, s32, s16, sv), p, k.Bc1, k.Bc2, k.Epsilon, k.WeightDecay);
                    sp += (double)p * p;
                    sr += (double)r * r;
                }

                shared[l] = sp;
                shared[GpuReductions.Lanes + l] = sr;
            }

            GpuReductions.Tree(shared, 2, 0);
            if (Group.IdxX == 0)
            {
                partials[2L * c] = shared[0];
                partials[(2L * c) + 1] = shared[GpuReductions.Lanes];
            }

            Group.Barrier();
        }
    }

    /// <summary>Pass 2 (one thread per tensor): ‖p‖, ‖r‖ from the chunks in order, and η·trust as float32 (the CPU's).</summary>
    internal static void Finish(Index1D j, ArrayView<GpuTensorSpan> tensors, GpuGroups<Scalars> groups, ArrayView<Scalars> table, ArrayView<double> partials, ArrayView<float> tensorFactor)
    {
        GpuTensorSpan tensor = tensors[j];
        Scalars k = groups.Count <= GpuGroups<Scalars>.MaxByValue ? groups.Get(tensor.Group) : table[tensor.Group];
        double pn = Math.Sqrt(GpuReductions.Combined(tensor, partials, 2, 0, max: false));
        double rn = Math.Sqrt(GpuReductions.Combined(tensor, partials, 2, 1, max: false));
        tensorFactor[j] = (float)(k.LearningRate * ReductionFormulas.LambTrust(pn, rn));
    }

    /// <summary>Pass 3 (grid-stride over the chunks): p ← p − η·trust·r.</summary>
    internal static void Update(Index1D index, ArrayView<GpuChunk> chunks, GpuGroups<Scalars> groups, ArrayView<Scalars> table, ArrayView<float> tensorFactor, ArrayView<float> p32, ArrayView<ushort> p16, ArrayView<float> s32, ArrayView<ushort> s16, GpuLaunch launch)
    {
        for (long x = index; x < GpuReductions.End(chunks); x += launch.Stride)
        {
            if (!GpuReductions.TryElement(chunks, x, out GpuChunk chunk, out int local))
            {
                continue;
            }

            Scalars k = groups.Count <= GpuGroups<Scalars>.MaxByValue ? groups.Get(chunk.Group) : table[chunk.Group];
            long e = chunk.ArenaStart + local, s = chunk.StateStart + local;
            float p = GpuElements.Load(launch.ParameterCodec, p32, p16, e);
            float r = ReductionFormulas.LambDirection(GpuElements.Load(launch.StateCodec, s32, s16, s), GpuElements.Load(launch.StateCodec, s32, s16, launch.StateStride + s), p, k.Bc1, k.Bc2, k.Epsilon, k.WeightDecay);
            GpuElements.Store(launch.ParameterCodec, p32, p16, e, p - (tensorFactor[chunk.Tensor] * r), launch, chunk.Tensor, chunk.TensorStart + local);
        }
    }

    /// <summary>One group's per-step values, as the CPU passes compute them (float32 but η, which multiplies the trust in double).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Scalars
    {
        public double LearningRate;
        public float B1, C1, B2, C2, Bc1, Bc2, Epsilon, WeightDecay;

        public static Scalars Of(ReadOnlySpan<double> h, long step) => new()
        {
            LearningRate = h[0],
            B1 = (float)h[1],
            C1 = (float)(1 - h[1]),
            B2 = (float)h[2],
            C2 = (float)(1 - h[2]),
            Bc1 = (float)(1 / (1 - Math.Pow(h[1], step))),
            Bc2 = (float)(1 / (1 - Math.Pow(h[2], step))),
            Epsilon = (float)h[3],
            WeightDecay = (float)h[4],
        };
    }

    private sealed record Kernels(
        Action<AcceleratorStream, KernelConfig, ArrayView<GpuChunk>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<double>, GpuLaunch> Reduce,
        Action<AcceleratorStream, Index1D, ArrayView<GpuTensorSpan>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<double>, ArrayView<float>> Finish,
        Action<AcceleratorStream, Index1D, ArrayView<GpuChunk>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch> Update);
}
