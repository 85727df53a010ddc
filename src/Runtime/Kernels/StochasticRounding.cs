using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace OptGen.Kernels;

/// <summary>
/// The random bits of <see cref="StochasticBFloat16Codec"/>: a 32-bit integer hash of (seed, element index). The
/// runtime sets the seed on the running thread before each piece of work from the step's rounding seed, the step
/// number, the tensor and the piece's start, so the bits do not depend on which thread runs the piece.
/// </summary>
public static class StochasticRounding
{
    [ThreadStatic]
    private static uint s_seed;

    /// <summary>Sets the seed of the current thread's next stores.</summary>
    public static void SetSeed(ulong roundingSeed, long step, int tensor, long start) => s_seed = SeedOf(roundingSeed, step, tensor, start);

    /// <summary>
    /// The seed of the piece of tensor <paramref name="tensor"/> that starts at element <paramref name="start"/> in step
    /// <paramref name="step"/> (what <see cref="SetSeed"/> sets; the GPU kernel computes it per element).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint SeedOf(ulong roundingSeed, long step, int tensor, long start)
    {
        ulong h = roundingSeed ^ 0x9E3779B97F4A7C15UL;
        h = CounterRandom.Mix(h ^ (ulong)step);
        h = CounterRandom.Mix(h ^ (uint)tensor);
        h = CounterRandom.Mix(h ^ (ulong)start);
        return (uint)(h ^ (h >> 32));
    }

    /// <summary>The 16 noise bits of element <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Noise(uint index) => Noise(s_seed, index);

    /// <summary>The 16 noise bits of element <paramref name="index"/> (counted from its piece's start) under <paramref name="seed"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Noise(uint seed, uint index)
    {
        uint x = (index * 0x9E3779B9u) ^ seed;
        x ^= x >> 16;
        x *= 0x7FEB352Du;
        x ^= x >> 15;
        x *= 0x846CA68Bu;
        x ^= x >> 16;
        return x & 0xFFFFu;
    }

    /// <summary>The 16 noise bits of each lane's element index.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> Noise(Vector128<uint> index)
    {
        Vector128<uint> x = (index * Vector128.Create(0x9E3779B9u)) ^ Vector128.Create(s_seed);
        x ^= x >> 16;
        x *= Vector128.Create(0x7FEB352Du);
        x ^= x >> 15;
        x *= Vector128.Create(0x846CA68Bu);
        x ^= x >> 16;
        return x & Vector128.Create(0xFFFFu);
    }

    /// <summary>The 16 noise bits of each lane's element index.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> Noise(Vector256<uint> index)
    {
        Vector256<uint> x = (index * Vector256.Create(0x9E3779B9u)) ^ Vector256.Create(s_seed);
        x ^= x >> 16;
        x *= Vector256.Create(0x7FEB352Du);
        x ^= x >> 15;
        x *= Vector256.Create(0x846CA68Bu);
        x ^= x >> 16;
        return x & Vector256.Create(0xFFFFu);
    }

    /// <summary>The 16 noise bits of each lane's element index.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> Noise(Vector512<uint> index)
    {
        Vector512<uint> x = (index * Vector512.Create(0x9E3779B9u)) ^ Vector512.Create(s_seed);
        x ^= x >> 16;
        x *= Vector512.Create(0x7FEB352Du);
        x ^= x >> 15;
        x *= Vector512.Create(0x846CA68Bu);
        x ^= x >> 16;
        return x & Vector512.Create(0xFFFFu);
    }
}
