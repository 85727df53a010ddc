using System.Runtime.Intrinsics;

namespace OptGen.Kernels;

/// <summary>
/// How one storage element type (float, and later half or bfloat16) is read into float32 lanes and written back.
/// Kernels do all their math in float32; a codec is the only place that knows the bytes in memory.
/// </summary>
public interface IElementCodec
{
    /// <summary>Bytes per stored element.</summary>
    static abstract int ElementSize { get; }

    /// <summary>Reads element <paramref name="index"/>.</summary>
    static abstract float Load(ref byte source, nuint index);

    /// <summary>Writes element <paramref name="index"/>.</summary>
    static abstract void Store(ref byte destination, nuint index, float value);

    /// <summary>Reads 4 elements starting at <paramref name="index"/>.</summary>
    static abstract Vector128<float> Load128(ref byte source, nuint index);

    /// <summary>Writes 4 elements starting at <paramref name="index"/>.</summary>
    static abstract void Store128(ref byte destination, nuint index, Vector128<float> value);

    /// <summary>Reads 8 elements starting at <paramref name="index"/>.</summary>
    static abstract Vector256<float> Load256(ref byte source, nuint index);

    /// <summary>Writes 8 elements starting at <paramref name="index"/>.</summary>
    static abstract void Store256(ref byte destination, nuint index, Vector256<float> value);

    /// <summary>Reads 16 elements starting at <paramref name="index"/>.</summary>
    static abstract Vector512<float> Load512(ref byte source, nuint index);

    /// <summary>Writes 16 elements starting at <paramref name="index"/>.</summary>
    static abstract void Store512(ref byte destination, nuint index, Vector512<float> value);
}
