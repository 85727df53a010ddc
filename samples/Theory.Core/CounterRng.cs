using System;

namespace OptGen.Samples.Theory;

/// <summary>
/// A counter-based random number generator: every draw is a pure function of (seed, stream, step, index), so any
/// element of any step can be drawn independently, in any order, on any device, and gives the same number.
/// </summary>
/// <remarks>
/// The bits are SplitMix64's output function applied to <c>key + counter·γ</c> (γ the golden-ratio increment,
/// key derived from seed and stream): an odd multiplier, an addition and the finalizer are bijections on 64-bit
/// words, so distinct counters under one key never collide. Only integer multiplies, shifts and xors are used,
/// which a GPU kernel can do bit-for-bit (OptGen's IR has no random-number op yet; a native one is future work).
/// Counters: <c>step</c> in [0, 2³¹), <c>index</c> in [0, 2³²).
/// </remarks>
public static class CounterRng
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    /// <summary>SplitMix64's finalizer (a bijection on 64-bit words with good avalanche).</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The key of one (seed, stream) pair; hot loops compute it once and call the keyed overloads.</summary>
    public static ulong Key(ulong seed, ulong stream) => Mix(Mix(seed) ^ (stream * Golden));

    /// <summary>64 random bits for draw <paramref name="lane"/> (0 or 1) of element <paramref name="index"/> at <paramref name="step"/>.</summary>
    public static ulong Bits(ulong seed, ulong stream, long step, long index, int lane = 0) =>
        BitsFromKey(Key(seed, stream), step, index, lane);

    /// <summary><see cref="Bits"/> with the key precomputed by <see cref="Key"/>.</summary>
    public static ulong BitsFromKey(ulong key, long step, long index, int lane = 0)
    {
        ulong counter = ((ulong)step << 32) | (uint)index;
        return Mix(key + (((counter << 1) | (uint)(lane & 1)) * Golden));
    }

    /// <summary>A uniform double in (0, 1) (53 random bits, never 0 or 1).</summary>
    public static double Uniform(ulong seed, ulong stream, long step, long index, int lane = 0) =>
        ((Bits(seed, stream, step, index, lane) >> 11) + 0.5) * (1.0 / (1UL << 53));

    /// <summary>A uniform integer in [0, <paramref name="n"/>) (Lemire's multiply-shift; exact for powers of two).</summary>
    public static int Below(int n, ulong seed, ulong stream, long step, long index) =>
        (int)(((Bits(seed, stream, step, index) >> 32) * (ulong)n) >> 32);

    /// <summary>A standard normal draw (Box–Muller on two uniforms of the same counter).</summary>
    public static double Normal(ulong seed, ulong stream, long step, long index) =>
        NormalFromKey(Key(seed, stream), step, index);

    /// <summary><see cref="Normal"/> with the key precomputed by <see cref="Key"/>.</summary>
    public static double NormalFromKey(ulong key, long step, long index)
    {
        double u1 = ((BitsFromKey(key, step, index, 0) >> 11) + 0.5) * (1.0 / (1UL << 53));
        double u2 = ((BitsFromKey(key, step, index, 1) >> 11) + 0.5) * (1.0 / (1UL << 53));
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
