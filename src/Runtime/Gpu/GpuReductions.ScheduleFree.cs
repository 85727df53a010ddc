using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Engine;

namespace OptGen.Gpu;

/// <summary>
/// <see cref="AdamWScheduleFree"/> on the device: its one fused pass (v, z and y per element; no reduction), with the
/// per-step values of the CPU path (<see cref="AdamWScheduleFree.StepValues"/>, torch.lerp's formula
/// <see cref="TorchLerp"/>); and the <c>Eval</c>/<c>Train</c> swap of the device parameters (<see cref="Swap"/>).
/// </summary>
internal sealed class GpuScheduleFree : GpuPassUpdate<GpuScheduleFree.Scalars>
{
    private static readonly ConditionalWeakTable<Accelerator, Kernels> Loaded = new();
    private readonly Kernels _kernels;

    public GpuScheduleFree(Accelerator accelerator, int groups)
        : base(accelerator, groups, static (h, hostState, step, _) => Scalars.Of(h, hostState, step), width: 0)
    {
        _kernels = Load(accelerator);
    }

    private static Kernels Load(Accelerator accelerator) => Loaded.GetValue(accelerator, static a => new Kernels(
        a.LoadAutoGroupedKernel<Index1D, ArrayView<GpuChunk>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch>(Update),
        a.LoadAutoGroupedKernel<Index1D, ArrayView<GpuChunk>, ArrayView<float>, ArrayView<float>, ArrayView<float>, long, int, int>(Swap)));

    private protected override void RunPasses(AcceleratorStream stream, int threads, in GpuUpdateViews views, GpuLaunch launch, ArrayView<Scalars> table) =>
        _kernels.Update(stream, threads, views.Chunks, Groups, table, views.Factor, views.Parameters32, views.Parameters16, views.Gradients32, views.Gradients16, views.State32, views.State16, launch);

    /// <summary>
    /// Launches the swap over every chunk: to eval, y is saved in state plane 2 and p ← lerp(y, z, 1 − 1/β₁) with
    /// each group's <paramref name="weights"/>; to train, p ← the saved y (exact).
    /// </summary>
    internal static void LaunchSwap(Accelerator accelerator, AcceleratorStream stream, int threads, ArrayView<GpuChunk> chunks, ArrayView<float> weights, ArrayView<float> parameters, ArrayView<float> state, long stateStride, bool toEval) =>
        Load(accelerator).Swap(stream, threads, chunks, weights, parameters, state, stateStride, toEval ? 1 : 0, threads);

    /// <summary>The fused pass (grid-stride over the chunks), the CPU's element formulas in order.</summary>
    internal static void Update(Index1D index, ArrayView<GpuChunk> chunks, GpuGroups<Scalars> groups, ArrayView<Scalars> table, ArrayView<float> factor, ArrayView<float> p32, ArrayView<ushort> p16, ArrayView<float> g32, ArrayView<ushort> g16, ArrayView<float> s32, ArrayView<ushort> s16, GpuLaunch launch)
    {
        float gradientFactor = GpuReductions.GradientFactor(factor, launch);
        for (long x = index; x < GpuReductions.End(chunks); x += launch.Stride)
        {
            if (!GpuReductions.TryElement(chunks, x, out GpuChunk chunk, out int local))
            {
                continue;
            }

            Scalars k = groups.Count <= GpuGroups<Scalars>.MaxByValue ? groups.Get(chunk.Group) : table[chunk.Group];
            long e = chunk.ArenaStart + local, z = chunk.StateStart + local, v = launch.StateStride + z;
            int t = chunk.TensorStart + local;
            float y = GpuElements.Load(launch.ParameterCodec, p32, p16, e);
            float g = GpuElements.Load(launch.GradientCodec, g32, g16, e) * gradientFactor;
            float zi = k.First != 0 ? y : GpuElements.Load(launch.StateCodec, s32, s16, z);
            GpuElements.Store(launch.StateCodec, s32, s16, v, (GpuElements.Load(launch.StateCodec, s32, s16, v) * k.B2) + (k.C2 * (g * g)), launch, chunk.Tensor, t);
            float normalized = g / (MathF.Sqrt(GpuElements.Load(launch.StateCodec, s32, s16, v) * k.Bc2) + k.Epsilon);
            if (k.WeightDecay != 0)
            {
                normalized += k.WeightDecay * y;
            }

            y = TorchLerp.Of(y, zi, k.Ckp1) + (normalized * k.YStep);
            GpuElements.Store(launch.StateCodec, s32, s16, z, zi - (k.Lr * normalized), launch, chunk.Tensor, t);
            GpuElements.Store(launch.ParameterCodec, p32, p16, e, y, launch, chunk.Tensor, t);
        }
    }

    /// <summary>The swap kernel (float32 parameters and state): see <see cref="LaunchSwap"/>.</summary>
    internal static void Swap(Index1D index, ArrayView<GpuChunk> chunks, ArrayView<float> weights, ArrayView<float> parameters, ArrayView<float> state, long stateStride, int toEval, int stride)
    {
        for (long x = index; x < GpuReductions.End(chunks); x += stride)
        {
            if (!GpuReductions.TryElement(chunks, x, out GpuChunk chunk, out int local))
            {
                continue;
            }

            long e = chunk.ArenaStart + local, z = chunk.StateStart + local, saved = (2 * stateStride) + z;
            if (toEval != 0)
            {
                float y = parameters[e];
                state[saved] = y;
                parameters[e] = TorchLerp.Of(y, state[z], weights[chunk.Group]);
            }
            else
            {
                parameters[e] = state[saved];
            }
        }
    }

    /// <summary>One group's per-step values, as the CPU pass computes them.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Scalars
    {
        public float B2, C2, Bc2, Epsilon, WeightDecay, Ckp1, Lr, YStep;
        public int First;

        public static Scalars Of(ReadOnlySpan<double> h, ReadOnlySpan<double> hostState, long step)
        {
            (double lr, double ckp1) = AdamWScheduleFree.StepValues(h, hostState, step);
            return new Scalars
            {
                B2 = (float)h[2],
                C2 = (float)(1 - h[2]),
                Bc2 = (float)(1 / (1 - Math.Pow(h[2], step))),
                Epsilon = (float)h[3],
                WeightDecay = (float)h[4],
                Ckp1 = (float)ckp1,
                Lr = (float)lr,
                YStep = (float)(lr * ((h[1] * (1 - ckp1)) - 1)),
                First = step == 1 ? 1 : 0,
            };
        }
    }

    private sealed record Kernels(
        Action<AcceleratorStream, Index1D, ArrayView<GpuChunk>, GpuGroups<Scalars>, ArrayView<Scalars>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, GpuLaunch> Update,
        Action<AcceleratorStream, Index1D, ArrayView<GpuChunk>, ArrayView<float>, ArrayView<float>, ArrayView<float>, long, int, int> Swap);
}
