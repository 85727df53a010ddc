using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace OptGen.Kernels;

/// <summary>Plain float32 storage: loads and stores are unaligned vector moves.</summary>
public readonly struct Float32Codec : IElementCodec
{
    /// <inheritdoc/>
    public static int ElementSize => sizeof(float);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(ref byte source, nuint index) => Unsafe.Add(ref Unsafe.As<byte, float>(ref source), index);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(ref byte destination, nuint index, float value) => Unsafe.Add(ref Unsafe.As<byte, float>(ref destination), index) = value;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load128(ref byte source, nuint index) => Vector128.LoadUnsafe(ref Unsafe.As<byte, float>(ref source), index);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store128(ref byte destination, nuint index, Vector128<float> value) => value.StoreUnsafe(ref Unsafe.As<byte, float>(ref destination), index);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load256(ref byte source, nuint index) => Vector256.LoadUnsafe(ref Unsafe.As<byte, float>(ref source), index);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store256(ref byte destination, nuint index, Vector256<float> value) => value.StoreUnsafe(ref Unsafe.As<byte, float>(ref destination), index);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(ref byte source, nuint index) => Vector512.LoadUnsafe(ref Unsafe.As<byte, float>(ref source), index);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store512(ref byte destination, nuint index, Vector512<float> value) => value.StoreUnsafe(ref Unsafe.As<byte, float>(ref destination), index);
}
