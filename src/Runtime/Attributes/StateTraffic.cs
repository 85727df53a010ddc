// Also compiled into the generator (src/Generator/OptGen.Generator.csproj links this file), which prints the same
// numbers in the generated documentation. Keep it netstandard2.0 C# with no dependency beyond System.
#if OPTGEN_GENERATOR
namespace OptGen.Generator.Model;
#else
namespace OptGen;
#endif

/// <summary>
/// The one definition of a step's memory traffic per element for each way of storing the state: p and g read and p
/// written as float32, plus per state buffer read (written) its stored bytes: 4 (float32), 2 (bfloat16), one code
/// byte and a float32 absmax per 256 values (8-bit blockwise), half a byte and an absmax per 128 (4-bit).
/// </summary>
internal static class StateTraffic
{
    /// <summary>Bytes per element of one state buffer stored with <paramref name="bits"/> per value: 32, 16, 8 or 4.</summary>
    public static double PlaneBytes(int bits) => bits switch
    {
        32 => 4,
        16 => 2,
        8 => 1 + (4.0 / 256),
        _ => 0.5 + (4.0 / 128),
    };

    /// <summary>
    /// Bytes read per element: p, g, <paramref name="inputs"/> float32 inputs beside g (the per-example squares) and
    /// <paramref name="statesRead"/> state buffers.
    /// </summary>
    public static double Read(int statesRead, int bits, int inputs) => 8 + (4 * inputs) + (statesRead * PlaneBytes(bits));

    /// <summary>Bytes written per element: p and <paramref name="statesWritten"/> state buffers.</summary>
    public static double Written(int statesWritten, int bits) => 4 + (statesWritten * PlaneBytes(bits));
}
