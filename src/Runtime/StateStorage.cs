using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace OptGen;

/// <summary>
/// The per-element state of one tensor: <c>count</c> float32 buffers ("planes") of <c>length</c> elements in one
/// pinned allocation. Each plane starts on a 64-byte boundary, and consecutive planes are staggered within the
/// 4 KiB page (stride ≡ 1088 bytes mod 4096) so that the kernel's streams do not alias each other in the cache.
/// </summary>
internal sealed class StateStorage
{
    private const int Alignment = 64;
    private const int AlignmentFloats = Alignment / sizeof(float);
    private const int PageBytes = 4096;
    private const int StaggerBytes = 1088;

    private readonly float[] _buffer;
    private readonly int _offset;

    public StateStorage(int count, int length, int elementSize = sizeof(float))
    {
        Count = count;
        Length = length;
        ElementSize = elementSize;
        if (count == 0)
        {
            _buffer = [];
            return;
        }

        // The layout is computed in bytes; the buffer holds floats, so a 2-byte element count is halved (rounded up).
        Stride = StrideFor(length, elementSize);
        long total = (((Stride * (long)count * elementSize) + sizeof(float) - 1) / sizeof(float)) + AlignmentFloats;
        if (total > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "The optimizer state for this many elements does not fit in one allocation.");
        }

        _buffer = GC.AllocateArray<float>((int)total, pinned: true);
        nint address = Unsafe.ByteOffset(ref Unsafe.NullRef<float>(), ref MemoryMarshal.GetArrayDataReference(_buffer));
        int misalignment = (int)(address & (Alignment - 1));
        _offset = misalignment == 0 ? 0 : (Alignment - misalignment) / sizeof(float);
    }

    /// <summary>The number of planes.</summary>
    public int Count { get; }

    /// <summary>Elements per plane.</summary>
    public int Length { get; }

    /// <summary>Bytes per stored element: 4 (float32) or 2 (bfloat16).</summary>
    public int ElementSize { get; }

    /// <summary>The distance between planes, in elements.</summary>
    public int Stride { get; }

    /// <summary>The first element of plane 0.</summary>
    public ref float Base => ref Count == 0 ? ref Unsafe.NullRef<float>() : ref _buffer[_offset];

    /// <summary>Plane <paramref name="index"/>.</summary>
    /// <exception cref="InvalidOperationException">The state is not stored as float32.</exception>
    public Span<float> Plane(int index) => ElementSize == sizeof(float)
        ? _buffer.AsSpan(_offset + (index * Stride), Length)
        : throw new InvalidOperationException("The optimizer's state is not stored as float32 (bfloat16, 8-bit or 4-bit); read it with CopyState.");

    /// <summary>
    /// Elements [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>) of plane
    /// <paramref name="index"/>, typed as stored: <typeparamref name="T"/> is float (float32 state) or ushort
    /// (bfloat16 bits). Offsets are computed in 64 bits, so planes beyond 2 GiB are fine.
    /// </summary>
    public Span<T> Elements<T>(int index, int start, int length)
        where T : unmanaged
    {
        if (Unsafe.SizeOf<T>() != ElementSize)
        {
            throw new InvalidOperationException($"The state holds {ElementSize}-byte elements, not {typeof(T).Name}.");
        }

        if (Count == 0 || length == 0)
        {
            return default;
        }

        long byteOffset = (((long)index * Stride) + start) * ElementSize;
        ref byte first = ref Unsafe.AddByteOffset(ref Unsafe.As<float, byte>(ref _buffer[_offset]), (nint)byteOffset);
        return MemoryMarshal.CreateSpan(ref Unsafe.As<byte, T>(ref first), length);
    }

    /// <summary>The plane stride for <paramref name="length"/> elements: a 64-byte multiple, staggered in the page.</summary>
    internal static int StrideFor(int length, int elementSize = sizeof(float))
    {
        int perLine = Alignment / elementSize;
        long rounded = ((long)length + perLine - 1) / perLine * perLine;
        long bytes = rounded * elementSize;
        long pad = ((StaggerBytes - (bytes % PageBytes)) + PageBytes) % PageBytes;
        return checked((int)(rounded + (pad / elementSize)));
    }
}
