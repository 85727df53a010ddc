using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using OptGen.Kernels;

namespace OptGen.Gpu;

/// <summary>
/// The global gradient norm on the device, reduced in the CPU engine's order so that, on ILGPU's CPU accelerator,
/// the sum of squares is bit-identical to the CPU backend's over the same work pieces; the largest gradient
/// magnitude in the same pass (exact, for the engine's overflow test); and the clip factor and gradient factor
/// computed on the device, so a clipped step needs no host synchronisation.
/// </summary>
/// <remarks>
/// <para>Three launches on the step's stream. (1) One thread per piece and lane: lane L &lt; 16 sums gᵢ² in double
/// over the piece's elements i ≡ L (mod 16) below the last whole block of 16, in order (the CPU's 16 vector
/// accumulators); lane 16 sums the tail. (2) One thread per piece adds the lanes as the CPU folds its vectors:
/// ((a₀+a₁)+(a₂+a₃)) lane-wise, then ((e₀+e₁)+(e₂+e₃)) + tail. (3) One thread adds the pieces in order and computes
/// norm = √sum·scale, clip = min(1, max/(norm + 10⁻⁶)) when the norm is finite (else 1), and the gradient factor
/// float32(scale·clip) — the same double expressions as the CPU engine. Each launch also carries max |gᵢ| (lane,
/// piece, all; combined by <see cref="LargestMagnitude"/>, as on the CPU): the second half of the lane and piece buffers (<see cref="LanesLength"/>, <see cref="PartialLength"/>)
/// holds the maxima, and <see cref="Finish"/> writes it to result slot 3.</para>
/// <para>On a GPU the compiler may contract a product and a sum into a fused multiply-add, so the sum, the norm and
/// the clip factor may differ from the CPU's in the last bits (docs/gpu.md); the order stays fixed, so they are
/// still deterministic run to run.</para>
/// </remarks>
internal static class GpuGradientNorm
{
    /// <summary>Lanes per piece: 16 vector lanes and the scalar tail.</summary>
    internal const int Lanes = 17;

    private static readonly ConditionalWeakTable<Accelerator, Kernels> Loaded = new();

    /// <summary>Results slots: the sum of squares, the norm, the clip factor, max |gᵢ| (as a double; exact).</summary>
    internal const int ResultCount = 4;

    /// <summary>The lane buffer's length for <paramref name="pieces"/> pieces: every lane's Σ g², then every lane's max |g|.</summary>
    internal static long LanesLength(int pieces) => 2L * pieces * Lanes;

    /// <summary>The piece buffer's length for <paramref name="pieces"/> pieces: every piece's Σ g², then every piece's max |g|.</summary>
    internal static long PartialLength(int pieces) => 2L * pieces;

    internal static Kernels Load(Accelerator accelerator) => Loaded.GetValue(accelerator, static a => new Kernels(
        a.LoadAutoGroupedKernel<Index1D, ArrayView<GpuPiece>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<double>, int>(LaneSums),
        a.LoadAutoGroupedKernel<Index1D, ArrayView<double>, ArrayView<double>>(PieceSums),
        a.LoadAutoGroupedKernel<Index1D, ArrayView<double>, ArrayView<double>, ArrayView<float>, NormOptions>(Finish)));

    /// <summary>
    /// Kernel 1: lane sums of squares and maxima of |g|, <see cref="Lanes"/> per piece. With per-example squares
    /// (<paramref name="q32"/>, <paramref name="q16"/>, stored like the gradients; empty views without them) a
    /// lane whose squares hold a NaN or ±∞ sums to NaN, so the step counts as non-finite, as the CPU's piece does.
    /// </summary>
    internal static void LaneSums(Index1D index, ArrayView<GpuPiece> pieces, ArrayView<float> g32, ArrayView<ushort> g16, ArrayView<float> q32, ArrayView<ushort> q16, ArrayView<double> lanes, int codec)
    {
        int squares = q32.Length > 0 || q16.Length > 0 ? 1 : 0;
        GpuPiece piece = pieces[index / Lanes];
        int lane = index % Lanes;
        int whole = piece.Length & ~15;
        double sum = 0;
        float max = 0;
        bool finite = true;
        int first = lane < 16 ? lane : whole, end = lane < 16 ? whole : piece.Length, stride = lane < 16 ? 16 : 1;
        for (int i = first; i < end; i += stride)
        {
            float x = GpuElements.Load(codec, g32, g16, piece.ArenaStart + i);
            sum += (double)x * x;
            max = LargestMagnitude.Combine(max, Math.Abs(x));
            if (squares != 0)
            {
                float q = GpuElements.Load(codec, q32, q16, piece.ArenaStart + i);
                finite &= q - q == 0;
            }
        }

        lanes[index] = finite ? sum : double.NaN;
        lanes[(lanes.Length / 2) + index] = max;
    }

    /// <summary>Kernel 2: each piece's lanes folded as the CPU folds its four 4-lane accumulators; their maxima.</summary>
    internal static void PieceSums(Index1D index, ArrayView<double> lanes, ArrayView<double> partial)
    {
        long b = (long)index.X * Lanes;
        double max = 0;
        for (long lane = 0; lane < Lanes; lane++)
        {
            max = LargestMagnitude.Combine(max, lanes[(lanes.Length / 2) + b + lane]);
        }

        partial[(partial.Length / 2) + index] = max;
        double e0 = (lanes[b + 0] + lanes[b + 4]) + (lanes[b + 8] + lanes[b + 12]);
        double e1 = (lanes[b + 1] + lanes[b + 5]) + (lanes[b + 9] + lanes[b + 13]);
        double e2 = (lanes[b + 2] + lanes[b + 6]) + (lanes[b + 10] + lanes[b + 14]);
        double e3 = (lanes[b + 3] + lanes[b + 7]) + (lanes[b + 11] + lanes[b + 15]);
        partial[index] = ((e0 + e1) + (e2 + e3)) + lanes[b + 16];
    }

    /// <summary>Kernel 3 (one thread): the pieces summed in order, their maxima, the norm, the clip factor and the gradient factor.</summary>
    internal static void Finish(Index1D index, ArrayView<double> partial, ArrayView<double> results, ArrayView<float> factor, NormOptions options)
    {
        double sum = 0, max = 0;
        long pieces = partial.Length / 2;
        for (long k = 0; k < pieces; k++)
        {
            sum += partial[k];
            max = LargestMagnitude.Combine(max, partial[pieces + k]);
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
        results[3] = max;
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
        Action<AcceleratorStream, Index1D, ArrayView<GpuPiece>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<double>, int> LaneSums,
        Action<AcceleratorStream, Index1D, ArrayView<double>, ArrayView<double>> PieceSums,
        Action<AcceleratorStream, Index1D, ArrayView<double>, ArrayView<double>, ArrayView<float>, NormOptions> Finish);
}
