// `--blockwise-probe --only instr`: reciprocal throughput and latency of the AVX-512 instructions the blockwise
// codec uses, measured on this machine (no performance counters in the VM): twelve independent chains (throughput)
// and one chain (latency), in cycles of the clock measured by a dependent scalar add chain.

using System;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace OptGen.Benchmarks;

internal static class InstructionThroughput
{
    private const int Count = 1 << 16;

    public static void Run(Func<int, Action, double> least)
    {
        double ghz = Clock(least);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"instr clock {ghz:F2} GHz"));
        Vector512<float> a = A;
        Report<OpSqrt>("vsqrtps", ghz, least, a);
        Report<OpDiv>("vdivps", ghz, least, a);
        Report<OpRcp>("vrcp14ps", ghz, least, a);
        Report<OpGetExp>("vgetexpps", ghz, least, a);
        Report<OpCmpK>("cmp->k blend", ghz, least, a);
        Report<OpMovd2m>("sign select", ghz, least, a);
        Report<Op0>("vpermps", ghz, least, a);
        Report<Op1>("vpermt2ps", ghz, least, a);
        Report<Op2>("vpermi2ps(idx)", ghz, least, Vector512.Create(3).AsSingle());
        Report<Op3>("vpermb", ghz, least, a);
        Report<Op4>("vpermt2b", ghz, least, a);
        Report<Op5>("vpshufb", ghz, least, a);
        Report<Op6>("vrangeps", ghz, least, a);
        Report<Op7>("vreduceps", ghz, least, a);
        Report<Op8>("vminps", ghz, least, a);
        Report<Op9>("vmulps", ghz, least, a);
        Report<Op10>("vfmadd", ghz, least, a);
        Report<Op11>("vcvttps2dq", ghz, least, a);
        Report<Op12>("vcvtdq2ps", ghz, least, a);
        Report<Op13>("vpsrld", ghz, least, a);
        Report<Op14>("vpaddd", ghz, least, a);
        Report<Op15>("vpternlogd", ghz, least, a);
        Report<Op16>("vpmaxsd", ghz, least, a);
        Report<Op17>("vpackusdw", ghz, least, a);
        Report<Op18>("cmp+blend", ghz, least, a);
        Report<Op19>("vpmovdb", ghz, least, a);
    }

    /// <summary>The core clock in GHz, from a dependent chain of scalar xor/add (latency 1 each).</summary>
    internal static double Clock(Func<int, Action, double> least)
    {
        static ulong Scalar(ulong x, int count)
        {
            for (int i = 0; i < count; i++)
            {
                x = (x ^ (uint)i) + 1;
                x = (x ^ (uint)i) + 1;
                x = (x ^ (uint)i) + 1;
                x = (x ^ (uint)i) + 1;
            }

            return x;
        }

        ulong sink = 0;
        double ns = least(100, () => sink = Scalar(sink, Count));
        GC.KeepAlive(sink);
        return 8.0 * Count / ns;
    }

    private static Vector512<float> A => Vector512.Create(1.0001f);
    private static Vector512<float> B => Vector512.Create(0.5f);
    private static Vector512<int> Idx => Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);

    private interface IOp
    {
        static abstract Vector512<float> Do(Vector512<float> x);
    }

    private struct OpSqrt : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512F.Sqrt(x); }
    private struct OpDiv : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512F.Divide(A, x); }
    private struct OpRcp : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512F.Reciprocal14(x); }
    private struct OpGetExp : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512F.GetExponent(x); }
    private struct OpCmpK : IOp { public static Vector512<float> Do(Vector512<float> x) => Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, B), B, x); }
    private struct OpMovd2m : IOp { public static Vector512<float> Do(Vector512<float> x) => Vector512.ConditionalSelect(Avx512F.ShiftRightArithmetic(x.AsInt32(), 31).AsSingle(), B, x); }
    private struct Op0 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512F.PermuteVar16x32(x, Idx); }
    private struct Op1 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512F.PermuteVar16x32x2(x, Idx, B); }
    private struct Op2 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512F.PermuteVar16x32x2(A, x.AsInt32(), B); }
    private struct Op3 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512Vbmi.PermuteVar64x8(x.AsByte(), Idx.AsByte()).AsSingle(); }
    private struct Op4 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512Vbmi.PermuteVar64x8x2(x.AsByte(), Idx.AsByte(), B.AsByte()).AsSingle(); }
    private struct Op5 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512BW.Shuffle(x.AsByte(), Idx.AsByte()).AsSingle(); }
    private struct Op6 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512DQ.Range(x, B, 0b1010); }
    private struct Op7 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512DQ.Reduce(x, 0); }
    private struct Op8 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512F.Min(x, B); }
    private struct Op9 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512F.Multiply(x, A); }
    private struct Op10 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512F.FusedMultiplyAdd(x, A, B); }
    private struct Op11 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512F.ConvertToVector512Int32WithTruncation(x).AsSingle(); }
    private struct Op12 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512F.ConvertToVector512Single(x.AsInt32()); }
    private struct Op13 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512F.ShiftRightLogical(x.AsUInt32(), 3).AsSingle(); }
    private struct Op14 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512F.Add(x.AsInt32(), Idx).AsSingle(); }
    private struct Op15 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512F.TernaryLogic(x.AsUInt32(), Idx.AsUInt32(), B.AsUInt32(), 0xE4).AsSingle(); }
    private struct Op16 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512F.Max(x.AsInt32(), Idx).AsSingle(); }
    private struct Op17 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512BW.PackUnsignedSaturate(x.AsInt32(), Idx).AsSingle(); }
    private struct Op18 : IOp { public static Vector512<float> Do(Vector512<float> x) => Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, B), x, A); }
    private struct Op19 : IOp { public static Vector512<float> Do(Vector512<float> x) => Avx512F.ConvertToVector128Byte(x.AsInt32()).ToVector256Unsafe().ToVector512Unsafe().AsSingle(); }

    private static void Report<T>(string name, double ghz, Func<int, Action, double> least, Vector512<float> seed)
        where T : struct, IOp
    {
        Vector512<float> sink = seed;
        double latency = least(50, () => sink = Chain<T>(sink)) * ghz / (8.0 * Count);
        double throughput = least(50, () => sink = Throughput<T>(sink)) * ghz / (12.0 * Count);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"instr {name,-16} latency {latency:F2}  reciprocal throughput {throughput:F2} cycles ({sink.GetElement(0):G2})"));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Vector512<float> Chain<T>(Vector512<float> x)
        where T : struct, IOp
    {
        for (int i = 0; i < Count; i++)
        {
            x = T.Do(T.Do(T.Do(T.Do(T.Do(T.Do(T.Do(T.Do(x))))))));
        }

        return x;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Vector512<float> Throughput<T>(Vector512<float> x)
        where T : struct, IOp
    {
        Vector512<float> x0 = x, x1 = x + Vector512<float>.One, x2 = x1 + x1, x3 = x2 + x1, x4 = x3 + x1, x5 = x4 + x1;
        Vector512<float> x6 = x5 + x1, x7 = x6 + x1, x8 = x7 + x1, x9 = x8 + x1, x10 = x9 + x1, x11 = x10 + x1;
        for (int i = 0; i < Count; i++)
        {
            x0 = T.Do(x0); x1 = T.Do(x1); x2 = T.Do(x2); x3 = T.Do(x3); x4 = T.Do(x4); x5 = T.Do(x5);
            x6 = T.Do(x6); x7 = T.Do(x7); x8 = T.Do(x8); x9 = T.Do(x9); x10 = T.Do(x10); x11 = T.Do(x11);
        }

        return x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11;
    }
}
