using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace OptGen.Kernels;

/// <summary>
/// The counter-based random numbers behind the expression language's <c>randn()</c> (and <c>rand()</c>, uniform on
/// [0, 1)): a standard-normal draw that is
/// a pure function of (seed, step t, the element's global index, the draw's ordinal in the rule). There is no
/// generator state, so the scalar path, every SIMD width (each lane computed by the scalar code), any thread count and
/// the ILGPU kernel (which calls the scalar code) draw the same numbers for the same element.
/// </summary>
/// <remarks>
/// A SplitMix64 finalizer hashes the counter to 64 bits, split into two 24-bit uniforms u₁ ∈ (0, 1] and
/// u₂ ∈ [0, 1); Box–Muller gives z = √(−2 ln u₁)·cos(2π u₂) in float32 with <see cref="MathF"/>. |z| is at most
/// √(2·24·ln 2) ≈ 5.77 (the tail beyond has probability below 10⁻⁸).
/// </remarks>
public static class CounterRandom
{
    /// <summary>The key of one step: a hash of the seed (a whole number; the fraction is dropped) and the step number.</summary>
    /// <param name="seed">The seed, as the rule's <c>Seed</c> hyperparameter holds it.</param>
    /// <param name="step">The step number t = 1, 2, ….</param>
    /// <returns>The key every draw of the step starts from.</returns>
    public static ulong Key(double seed, long step) =>
        Mix(Mix(unchecked((ulong)(long)seed) + 0x9E3779B97F4A7C15UL) ^ unchecked((ulong)step * 0xD1B54A32D192ED03UL));

    /// <summary>The standard-normal draw <paramref name="draw"/> of element <paramref name="index"/> in the step of <paramref name="key"/>.</summary>
    /// <param name="key">The step's key (<see cref="Key"/>).</param>
    /// <param name="index">The element's global index.</param>
    /// <param name="draw">The draw's ordinal in the rule (0 for the first <c>randn()</c>).</param>
    /// <returns>A float32 standard-normal number.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Normal(ulong key, ulong index, int draw)
    {
        ulong bits = Bits(key, index, draw);
        float u1 = ((uint)(bits >> 40) + 1) * (1f / 16777216f);          // (0, 1]
        float u2 = ((uint)(bits >> 8) & 0xFFFFFFu) * (1f / 16777216f);   // [0, 1)
        return MathF.Sqrt(-2f * MathF.Log(u1)) * MathF.Cos(6.2831855f * u2);
    }

    /// <summary>The uniform draw <paramref name="draw"/> (<c>rand()</c>) of element <paramref name="index"/>: a multiple of 2⁻²⁴ in [0, 1).</summary>
    /// <param name="key">The step's key (<see cref="Key"/>).</param>
    /// <param name="index">The element's global index.</param>
    /// <param name="draw">The draw's ordinal in the rule.</param>
    /// <returns>A float32 uniform number in [0, 1).</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Uniform(ulong key, ulong index, int draw) => (uint)(Bits(key, index, draw) >> 40) * (1f / 16777216f);

    /// <summary>The uniform draws of the 4 elements starting at <paramref name="index"/>, each equal to <see cref="Uniform"/> of its element.</summary>
    /// <param name="key">The step's key.</param>
    /// <param name="index">The global index of the first lane's element.</param>
    /// <param name="draw">The draw's ordinal in the rule.</param>
    /// <returns>The lanes' draws.</returns>
    public static Vector128<float> Uniform128(ulong key, ulong index, int draw) => Vector128.Create(
        Uniform(key, index, draw), Uniform(key, index + 1, draw), Uniform(key, index + 2, draw), Uniform(key, index + 3, draw));

    /// <summary>The uniform draws of the 8 elements starting at <paramref name="index"/>, each equal to <see cref="Uniform"/> of its element.</summary>
    /// <param name="key">The step's key.</param>
    /// <param name="index">The global index of the first lane's element.</param>
    /// <param name="draw">The draw's ordinal in the rule.</param>
    /// <returns>The lanes' draws.</returns>
    public static Vector256<float> Uniform256(ulong key, ulong index, int draw) =>
        Vector256.Create(Uniform128(key, index, draw), Uniform128(key, index + 4, draw));

    /// <summary>The uniform draws of the 16 elements starting at <paramref name="index"/>, each equal to <see cref="Uniform"/> of its element.</summary>
    /// <param name="key">The step's key.</param>
    /// <param name="index">The global index of the first lane's element.</param>
    /// <param name="draw">The draw's ordinal in the rule.</param>
    /// <returns>The lanes' draws.</returns>
    public static Vector512<float> Uniform512(ulong key, ulong index, int draw) =>
        Vector512.Create(Uniform256(key, index, draw), Uniform256(key, index + 8, draw));

    /// <summary>The draws of the 4 elements starting at <paramref name="index"/>, each equal to <see cref="Normal"/> of its element.</summary>
    /// <param name="key">The step's key.</param>
    /// <param name="index">The global index of the first lane's element.</param>
    /// <param name="draw">The draw's ordinal in the rule.</param>
    /// <returns>The lanes' draws.</returns>
    public static Vector128<float> Normal128(ulong key, ulong index, int draw) => Vector128.Create(
        Normal(key, index, draw), Normal(key, index + 1, draw), Normal(key, index + 2, draw), Normal(key, index + 3, draw));

    /// <summary>The draws of the 8 elements starting at <paramref name="index"/>, each equal to <see cref="Normal"/> of its element.</summary>
    /// <param name="key">The step's key.</param>
    /// <param name="index">The global index of the first lane's element.</param>
    /// <param name="draw">The draw's ordinal in the rule.</param>
    /// <returns>The lanes' draws.</returns>
    public static Vector256<float> Normal256(ulong key, ulong index, int draw) =>
        Vector256.Create(Normal128(key, index, draw), Normal128(key, index + 4, draw));

    /// <summary>The draws of the 16 elements starting at <paramref name="index"/>, each equal to <see cref="Normal"/> of its element.</summary>
    /// <param name="key">The step's key.</param>
    /// <param name="index">The global index of the first lane's element.</param>
    /// <param name="draw">The draw's ordinal in the rule.</param>
    /// <returns>The lanes' draws.</returns>
    public static Vector512<float> Normal512(ulong key, ulong index, int draw) =>
        Vector512.Create(Normal256(key, index, draw), Normal256(key, index + 8, draw));

    /// <summary>The 64 hashed bits of one counter (key, index, draw).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Bits(ulong key, ulong index, int draw) =>
        Mix(key ^ Mix(unchecked(index + ((ulong)(uint)draw << 48) + 0x632BE59BD9B4E019UL)));

    /// <summary>The SplitMix64 finalizer: a bijective 64-bit mix (also the seed hash of <see cref="StochasticRounding"/>).</summary>
    internal static ulong Mix(ulong z)
    {
        unchecked
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
