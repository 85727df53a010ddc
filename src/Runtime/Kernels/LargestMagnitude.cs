using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace OptGen.Kernels;

/// <summary>
/// The one rule for max |gᵢ| of the norm pass (<see cref="Engine.GradientSummary.MaxMagnitude"/>), used wherever two
/// partial maxima meet: the CPU's vector lanes and scalar tail, its pieces, the GPU's lanes, pieces and total
/// (ILGPU kernels call the scalar overloads), and the combine across shards.
/// </summary>
/// <remarks>
/// <c>candidate &gt; current ? candidate : current</c>, starting from +0 with candidates |gᵢ|: a NaN candidate never
/// replaces the current maximum (the sum of squares reports the NaN; the maximum is read only when that sum is
/// finite), +∞ does, and −0 (|−0| = +0) leaves +0. So every implementation and every order of combining gives the same
/// value, the largest non-NaN magnitude, bit for bit. On x86 the vector form is one <c>vmaxps</c>, which computes
/// exactly this expression when the candidate is its first operand (a NaN or a tie returns the second).
/// </remarks>
internal readonly struct LargestMagnitude
{
    /// <summary>The larger of the maximum so far and a candidate magnitude; a NaN candidate is ignored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Combine(float current, float candidate) => candidate > current ? candidate : current;

    /// <summary>
    /// <see cref="Combine(float, float)"/> for float32 magnitudes held in double (the GPU's partial buffers): each is
    /// narrowed exactly and the float32 rule applies.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Combine(double current, double candidate) => Combine((float)current, (float)candidate);

    /// <summary><see cref="Combine(float, float)"/> lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Combine(Vector256<float> current, Vector256<float> candidate) =>
        Avx.IsSupported ? Avx.Max(candidate, current) : Portable(current, candidate);

    /// <summary>The vector rule without AVX: the same comparison and select.</summary>
    internal static Vector256<float> Portable(Vector256<float> current, Vector256<float> candidate) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(candidate, current), candidate, current);
}
