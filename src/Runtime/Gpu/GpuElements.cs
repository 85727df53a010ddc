using System.ComponentModel;
using System.Runtime.CompilerServices;
using ILGPU;
using OptGen.Kernels;

namespace OptGen.Gpu;

/// <summary>
/// The storage formats of the GPU kernels, as integer codes in <see cref="GpuLaunch"/>: one kernel serves every
/// combination, branching uniformly (every thread of a launch takes the same branch) on the code.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class GpuCodec
{
    /// <summary>IEEE float32 (<see cref="Float32Codec"/>).</summary>
    public const int Float32 = 0;

    /// <summary>IEEE half (<see cref="HalfCodec"/>): widened exactly, rounded to nearest even.</summary>
    public const int Half = 1;

    /// <summary>bfloat16 (<see cref="BFloat16Codec"/>): widened exactly, rounded to nearest even.</summary>
    public const int BFloat16 = 2;

    /// <summary>bfloat16 rounded stochastically (<see cref="StochasticBFloat16Codec"/>), with the CPU's random bits.</summary>
    public const int StochasticBFloat16 = 3;
}

/// <summary>
/// Element loads and stores for the GPU kernels: the scalar bit arithmetic of the CPU codecs
/// (<see cref="HalfCodec"/>, <see cref="BFloat16Codec"/>, <see cref="StochasticBFloat16Codec"/>), written with
/// <see cref="Interop.FloatAsInt(float)"/> because ILGPU compiles neither <c>BitConverter</c> nor <see cref="System.Half"/>.
/// Every function gives the same bits as the CPU codec's SIMD path (tested over every 16-bit pattern and random
/// float32 values in tests/OptGen.Gpu.Tests/GpuElementsTests.cs).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class GpuElements
{
    /// <summary>Widens half bits exactly (the algorithm of <see cref="HalfCodec.Load128"/>, one lane).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float WidenHalf(ushort h)
    {
        uint magnitude = (h & 0x7FFFu) << 13;
        uint sign = (h & 0x8000u) << 16;

        // Normal and subnormal halves: the shifted bits times 2¹¹² (exact). Infinity and NaN: the exponent set to all ones.
        uint finite = Interop.FloatAsInt(Interop.IntAsFloat(magnitude) * Interop.IntAsFloat(0x77800000u));
        uint special = magnitude + 0x70000000u;
        return Interop.IntAsFloat((magnitude >= 0x0F800000u ? special : finite) | sign);
    }

    /// <summary>Rounds to half bits, to nearest with ties to even (the algorithm of <see cref="HalfCodec.Store128"/>, one lane).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort NarrowHalf(float value)
    {
        uint all = Interop.FloatAsInt(value);
        uint sign = (all >> 16) & 0x8000u;
        uint abs = all & 0x7FFFFFFFu;

        // Normal results: rebias the exponent (127 → 15) and round the 13 dropped bits to nearest, ties to even.
        uint rebiased = abs - 0x38000000u;
        uint normal = (rebiased + 0x0FFFu + ((rebiased >> 13) & 1u)) >> 13;

        // Subnormal results (|x| < 2⁻¹⁴): adding 0.5 makes the float unit 2⁻²⁴, the half's, and rounds to it.
        uint subnormal = Interop.FloatAsInt(Interop.IntAsFloat(abs) + 0.5f) - 0x3F000000u;
        uint bits = abs < 0x38800000u ? subnormal : normal;
        bits = abs >= 0x477FF000u ? 0x7C00u : bits;
        bits = abs > 0x7F800000u ? 0x7E00u : bits;
        return (ushort)(bits | sign);
    }

    /// <summary>Widens bfloat16 bits exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float WidenBFloat16(ushort b) => Interop.IntAsFloat((uint)b << 16);

    /// <summary>Rounds to bfloat16 bits, to nearest with ties to even; NaN stays a quiet NaN (<see cref="BFloat16Codec.Narrow"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort NarrowBFloat16(float value)
    {
        uint bits = Interop.FloatAsInt(value);
        return float.IsNaN(value) ? (ushort)((bits >> 16) | 0x40u) : (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }

    /// <summary>
    /// Rounds to bfloat16 bits stochastically, adding <paramref name="noise"/> (16 random bits) below the kept bits
    /// (<see cref="StochasticBFloat16Codec.Narrow"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort NarrowBFloat16(float value, uint noise)
    {
        uint bits = Interop.FloatAsInt(value);
        return float.IsNaN(value) ? (ushort)((bits >> 16) | 0x40u) : (ushort)((bits + noise) >> 16);
    }

    /// <summary>Loads element <paramref name="index"/> of a buffer stored as <paramref name="codec"/> (one of <paramref name="wide"/> and <paramref name="narrow"/> is used).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(int codec, ArrayView<float> wide, ArrayView<ushort> narrow, long index) =>
        codec == GpuCodec.Float32 ? wide[index] : codec == GpuCodec.Half ? WidenHalf(narrow[index]) : WidenBFloat16(narrow[index]);

    /// <summary>
    /// Stores element <paramref name="index"/> of a buffer stored as <paramref name="codec"/>. Stochastic rounding
    /// (parameters only, whose <paramref name="index"/> is the arena position) draws the CPU's bits for that arena
    /// position (<see cref="StochasticRounding"/>). <paramref name="tensor"/> and <paramref name="elementInTensor"/>
    /// (the element's tensor and index in it) are not used by any codec today.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(int codec, ArrayView<float> wide, ArrayView<ushort> narrow, long index, float value, in GpuLaunch launch, int tensor, int elementInTensor)
    {
        if (codec == GpuCodec.Float32)
        {
            wide[index] = value;
        }
        else if (codec == GpuCodec.Half)
        {
            narrow[index] = NarrowHalf(value);
        }
        else if (codec == GpuCodec.BFloat16)
        {
            narrow[index] = NarrowBFloat16(value);
        }
        else
        {
            uint seed = StochasticRounding.SeedOf(launch.RoundingSeed, launch.Step);
            narrow[index] = NarrowBFloat16(value, StochasticRounding.Noise(seed, (uint)index));
        }
    }
}
