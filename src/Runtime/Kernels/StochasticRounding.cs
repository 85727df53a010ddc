using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace OptGen.Kernels;

/// <summary>
/// The random bits of <see cref="StochasticBFloat16Codec"/>: a 32-bit integer hash of (seed, arena position). The
/// seed depends only on the step's rounding seed and the step number; the position is the element's index in the
/// whole model's parameter arena (<see cref="ParameterLayout.ArenaOffsetOf"/> plus the index in the tensor; for one
/// shard of a model split across processes, counted from the whole model's first element). So an element's bits do
/// not depend on which thread, work piece, shard or kernel call stores it. The runtime sets the seed and the arena
/// position of the next stores' element 0 on the running thread before each piece of work.
/// </summary>
public static class StochasticRounding
{
    [ThreadStatic]
    private static uint s_seed;

    [ThreadStatic]
    private static uint s_origin;

    /// <summary>
    /// Sets the current thread's next stores: the step's seed and <paramref name="position"/>, the arena position of
    /// the element the codec calls index 0 (the first element of the kernel call).
    /// </summary>
    public static void SetSeed(ulong roundingSeed, long step, long position)
    {
        s_seed = SeedOf(roundingSeed, step);
        s_origin = (uint)position;
    }

    /// <summary>The seed of step <paramref name="step"/> under <paramref name="roundingSeed"/> (what <see cref="SetSeed"/> sets; the GPU kernel computes it per element).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint SeedOf(ulong roundingSeed, long step)
    {
        ulong h = roundingSeed ^ 0x9E3779B97F4A7C15UL;
        h = CounterRandom.Mix(h ^ (ulong)step);
        return (uint)(h ^ (h >> 32));
    }

    /// <summary>The 16 noise bits of element <paramref name="index"/> of the current kernel call (arena position origin + index).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Noise(uint index) => Noise(s_seed, s_origin + index);

    /// <summary>The 16 noise bits of the element at arena position <paramref name="position"/> under <paramref name="seed"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Noise(uint seed, uint position)
    {
        uint x = (position * 0x9E3779B9u) ^ seed;
        x ^= x >> 16;
        x *= 0x7FEB352Du;
        x ^= x >> 15;
        x *= 0x846CA68Bu;
        x ^= x >> 16;
        return x & 0xFFFFu;
    }

    /// <summary>The 16 noise bits of each lane's element index of the current kernel call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<uint> Noise(Vector128<uint> index)
    {
        Vector128<uint> x = ((index + Vector128.Create(s_origin)) * Vector128.Create(0x9E3779B9u)) ^ Vector128.Create(s_seed);
        x ^= x >> 16;
        x *= Vector128.Create(0x7FEB352Du);
        x ^= x >> 15;
        x *= Vector128.Create(0x846CA68Bu);
        x ^= x >> 16;
        return x & Vector128.Create(0xFFFFu);
    }

    /// <summary>The 16 noise bits of each lane's element index of the current kernel call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<uint> Noise(Vector256<uint> index)
    {
        Vector256<uint> x = ((index + Vector256.Create(s_origin)) * Vector256.Create(0x9E3779B9u)) ^ Vector256.Create(s_seed);
        x ^= x >> 16;
        x *= Vector256.Create(0x7FEB352Du);
        x ^= x >> 15;
        x *= Vector256.Create(0x846CA68Bu);
        x ^= x >> 16;
        return x & Vector256.Create(0xFFFFu);
    }

    /// <summary>The 16 noise bits of each lane's element index of the current kernel call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> Noise(Vector512<uint> index)
    {
        Vector512<uint> x = ((index + Vector512.Create(s_origin)) * Vector512.Create(0x9E3779B9u)) ^ Vector512.Create(s_seed);
        x ^= x >> 16;
        x *= Vector512.Create(0x7FEB352Du);
        x ^= x >> 15;
        x *= Vector512.Create(0x846CA68Bu);
        x ^= x >> 16;
        return x & Vector512.Create(0xFFFFu);
    }
}
