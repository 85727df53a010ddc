using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace OptGen.Gpu;

/// <summary>
/// The global gradient norm on the device, reduced in the CPU engine's order so that, on ILGPU's CPU accelerator,
/// the sum of squares is bit-identical to <c>Optimizer.SumOfSquares</c> over the same work pieces; and the clip
/// factor and gradient factor computed from it on the device, so a clipped step needs no host synchronisation.
/// </summary>
/// <remarks>
/// <para>Three launches on the step's stream. (1) One thread per piece and lane: lane L &lt; 16 sums gᵢ² in double
/// over the piece's elements i ≡ L (mod 16) below the last whole block of 16, in order (the CPU's 16 vector
/// accumulators); lane 16 sums the tail. (2) One thread per piece adds the lanes as the CPU folds its vectors:
/// ((a₀+a₁)+(a₂+a₃)) lane-wise, then ((e₀+e₁)+(e₂+e₃)) + tail. (3) One thread adds the pieces in order and computes
/// norm = √sum·scale, clip = min(1, max/(norm + 10⁻⁶)) when the norm is finite (else 1), and the gradient factor
/// float32(scale·clip) — the same double expressions as the CPU engine.</para>
/// <para>On a GPU the compiler may contract a product and a sum into a fused multiply-add, so the sum, the norm and
/// the clip factor may differ from the CPU's in the last bits (docs/gpu.md); the order stays fixed, so they are
/// still deterministic run to run.</para>
/// </remarks>
internal static class GpuGradientNorm
{
    /// <summary>Lanes per piece: 16 vector lanes and the scalar tail.</summary>
    internal const int Lanes = 17;

    private static readonly ConditionalWeakTable<Accelerator, Kernels> Loaded = new();

    /// <summary>Results slots: the sum of squares, the norm, the clip factor.</summary>
    internal const int ResultCount = 3;

    internal static Kernels Load(Accelerator accelerator) => Loaded.GetValue(accelerator, static a => new Kernels(
        a.LoadAutoGroupedKernel<Index1D, ArrayView<GpuPiece>, ArrayView<float>, ArrayView<ushort>, ArrayView<double>, int>(LaneSums),
        a.LoadAutoGroupedKernel<Index1D, ArrayView<double>, ArrayView<double>>(PieceSums),
        a.LoadAutoGroupedKernel<Index1D, ArrayView<double>, ArrayView<double>, ArrayView<float>, NormOptions>(Finish)));

    /// <summary>Kernel 1: lane sums of squares, <see cref="Lanes"/> per piece.</summary>
    internal static void LaneSums(Index1D index, ArrayView<GpuPiece> pieces, ArrayView<float> g32, ArrayView<ushort> g16, ArrayView<double> lanes, int codec)
    {
        GpuPiece piece = pieces[index / Lanes];
        int lane = index % Lanes;
        int whole = piece.Length & ~15;
        double sum = 0;
        if (lane < 16)
        {
            for (int i = lane; i < whole; i += 16)
            {
                double x = GpuElements.Load(codec, g32, g16, piece.ArenaStart + i);
                sum += x * x;
            }
        }
        else
        {
            for (int i = whole; i < piece.Length; i++)
            {
                double x = GpuElements.Load(codec, g32, g16, piece.ArenaStart + i);
                sum += x * x;
            }
        }

        lanes[index] = sum;
    }

    /// <summary>Kernel 2: each piece's lanes folded as the CPU folds its four 4-lane accumulators.</summary>
    internal static void PieceSums(Index1D index, ArrayView<double> lanes, ArrayView<double> partial)
    {
        long b = (long)index.X * Lanes;
        double e0 = (lanes[b + 0] + lanes[b + 4]) + (lanes[b + 8] + lanes[b + 12]);
        double e1 = (lanes[b + 1] + lanes[b + 5]) + (lanes[b + 9] + lanes[b + 13]);
        double e2 = (lanes[b + 2] + lanes[b + 6]) + (lanes[b + 10] + lanes[b + 14]);
        double e3 = (lanes[b + 3] + lanes[b + 7]) + (lanes[b + 11] + lanes[b + 15]);
        partial[index] = ((e0 + e1) + (e2 + e3)) + lanes[b + 16];
    }

    /// <summary>Kernel 3 (one thread): the pieces summed in order, the norm, the clip factor and the gradient factor.</summary>
    internal static void Finish(Index1D index, ArrayView<double> partial, ArrayView<double> results, ArrayView<float> factor, NormOptions options)
    {
        double sum = 0;
        for (long k = 0; k < partial.Length; k++)
        {
            sum += partial[k];
        }

        double norm = Math.Sqrt(sum) * options.GradientScale;
        double clip = 1.0;
        bool finite = !(double.IsNaN(norm) || double.IsInfinity(norm));
        if (options.Clip != 0 && finite)
        {
            clip = Math.Min(1.0, options.MaxGradientNorm / (norm + 1e-6));
        }

        results[0] = sum;
        results[1] = norm;
        results[2] = clip;
        factor[0] = (float)(options.GradientScale * clip);
    }

    /// <summary>What <see cref="Finish"/> needs of the step's options.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct NormOptions
    {
        public double GradientScale;
        public double MaxGradientNorm;
        public int Clip;
    }

    internal sealed record Kernels(
        Action<AcceleratorStream, Index1D, ArrayView<GpuPiece>, ArrayView<float>, ArrayView<ushort>, ArrayView<double>, int> LaneSums,
        Action<AcceleratorStream, Index1D, ArrayView<double>, ArrayView<double>> PieceSums,
        Action<AcceleratorStream, Index1D, ArrayView<double>, ArrayView<double>, ArrayView<float>, NormOptions> Finish);
}
