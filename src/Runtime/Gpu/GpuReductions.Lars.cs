using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Engine;

namespace OptGen.Gpu;

/// <summary>
/// <see cref="Lars"/> on the device: (1) Σp², Σg² per chunk (the fixed tree of <see cref="GpuReductions"/>); (2) one
/// thread per tensor adds its chunks in order and computes η·local; (3) the momentum step. The local rate is the
/// CPU's formula (<see cref="ReductionFormulas.LarsLocal"/>).
/// </summary>
internal sealed class GpuLars : GpuPassUpdate<GpuLars.Scalars>
{
    private static readonly ConditionalWeakTable<Accelerator, Kernels> Loaded = new();
    private readonly Kernels _kernels;

    public GpuLars(Accelerator accelerator, int groups)
        : base(accelerator, groups, static (h, _, _, _) => Scalars.Of(h), width: 2)
    {
        _kernels = Loaded.GetValue(accelerator, static a => new Kernels(
            a.LoadKernel<ArrayView<GpuChunk>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<double>, GpuLaunch>(Reduce),
            a.LoadAutoGroupedKernel<Index1D, ArrayView<GpuTensorSpan>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<double>, ArrayView<float>, ArrayView<float>, GpuLaunch>(Finish),
            a.LoadAutoGroupedKernel<Index1D, ArrayView<GpuChunk>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch>(Update)));
    }

    private protected override void RunPasses(AcceleratorStream stream, int threads, in GpuUpdateViews views, GpuLaunch launch, ArrayView<Scalars> table)
    {
        ArrayView<float> factor = TensorFactors;
        _kernels.Reduce(stream, ReduceConfig, views.Chunks, views.Parameters32, views.Parameters16, views.Gradients32, views.Gradients16, Partials, launch);
        _kernels.Finish(stream, TensorCount, Tensors, Groups, table, Partials, views.Factor, factor, launch);
        _kernels.Update(stream, threads, views.Chunks, Groups, table, factor, views.Factor, views.Parameters32, views.Parameters16, views.Gradients32, views.Gradients16, views.State32, views.State16, launch);
    }

    /// <summary>Pass 1 (explicitly grouped): Σp² and Σg² of the raw gradients per chunk.</summary>
    internal static void Reduce(ArrayView<GpuChunk> chunks, ArrayView<float> p32, ArrayView<ushort> p16, ArrayView<float> g32, ArrayView<ushort> g16, ArrayView<double> partials, GpuLaunch launch)
    {
        ArrayView<double> shared = SharedMemory.Allocate<double>(2 * GpuReductions.Lanes);
        for (int c = Grid.IdxX; c < chunks.IntLength; c += Grid.DimX)
        {
            GpuChunk chunk = chunks[c];
            for (int l = Group.IdxX; l < GpuReductions.Lanes; l += Group.DimX)
            {
                double sp = 0, sg = 0;
                for (int i = l; i < chunk.Length; i += GpuReductions.Lanes)
                {
                    double p = GpuElements.Load(launch.ParameterCodec, p32, p16, chunk.ArenaStart + i);
                    double g = GpuElements.Load(launch.GradientCodec, g32, g16, chunk.ArenaStart + i);
                    sp += p * p;
                    sg += g * g;
                }

                shared[l] = sp;
                shared[GpuReductions.Lanes + l] = sg;
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

    /// <summary>Pass 2 (one thread per tensor): ‖p‖, ‖g‖·scale from the chunks in order, and η·local as float32.</summary>
    internal static void Finish(Index1D j, ArrayView<GpuTensorSpan> tensors, GpuGroups<Scalars> groups, ArrayView<Scalars> table, ArrayView<double> partials, ArrayView<float> factor, ArrayView<float> tensorFactor, GpuLaunch launch)
    {
        GpuTensorSpan tensor = tensors[j];
        Scalars k = groups.Count <= GpuGroups<Scalars>.MaxByValue ? groups.Get(tensor.Group) : table[tensor.Group];
        double pn = Math.Sqrt(GpuReductions.Combined(tensor, partials, 2, 0, max: false));
        double gn = Math.Sqrt(GpuReductions.Combined(tensor, partials, 2, 1, max: false)) * GpuReductions.GradientFactor(factor, launch);
        tensorFactor[j] = (float)(k.LearningRate * ReductionFormulas.LarsLocal(k.TrustCoefficient, k.DecayRate, pn, gn));
    }

    /// <summary>Pass 3 (grid-stride over the chunks): b ← μb + η·local·(g + λp), p ← p − b.</summary>
    internal static void Update(Index1D index, ArrayView<GpuChunk> chunks, GpuGroups<Scalars> groups, ArrayView<Scalars> table, ArrayView<float> tensorFactor, ArrayView<float> factor, ArrayView<float> p32, ArrayView<ushort> p16, ArrayView<float> g32, ArrayView<ushort> g16, ArrayView<float> s32, ArrayView<ushort> s16, GpuLaunch launch)
    {
        float gradientFactor = GpuReductions.GradientFactor(factor, launch);
        for (long x = index; x < GpuReductions.End(chunks); x += launch.Stride)
        {
            if (!GpuReductions.TryElement(chunks, x, out GpuChunk chunk, out int local))
            {
                continue;
            }

            Scalars k = groups.Count <= GpuGroups<Scalars>.MaxByValue ? groups.Get(chunk.Group) : table[chunk.Group];
            long e = chunk.ArenaStart + local, s = chunk.StateStart + local;
            int t = chunk.TensorStart + local;
            float p = GpuElements.Load(launch.ParameterCodec, p32, p16, e);
            float d = (GpuElements.Load(launch.GradientCodec, g32, g16, e) * gradientFactor) + (k.Wd * p);
            GpuElements.Store(launch.StateCodec, s32, s16, s, (k.Mu * GpuElements.Load(launch.StateCodec, s32, s16, s)) + (tensorFactor[chunk.Tensor] * d), launch, chunk.Tensor, t);
            GpuElements.Store(launch.ParameterCodec, p32, p16, e, p - GpuElements.Load(launch.StateCodec, s32, s16, s), launch, chunk.Tensor, t);
        }
    }

    /// <summary>One group's per-step values: μ and λ in float32 for the elements, η, λ and tc in double for the local rate.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Scalars
    {
        public double LearningRate, DecayRate, TrustCoefficient;
        public float Mu, Wd;

        public static Scalars Of(ReadOnlySpan<double> h) => new()
        {
            LearningRate = h[0],
            DecayRate = h[2],
            TrustCoefficient = h[3],
            Mu = (float)h[1],
            Wd = (float)h[2],
        };
    }

    private sealed record Kernels(
        Action<AcceleratorStream, KernelConfig, ArrayView<GpuChunk>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<double>, GpuLaunch> Reduce,
        Action<AcceleratorStream, Index1D, ArrayView<GpuTensorSpan>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<double>, ArrayView<float>, ArrayView<float>, GpuLaunch> Finish,
        Action<AcceleratorStream, Index1D, ArrayView<GpuChunk>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch> Update);
}
