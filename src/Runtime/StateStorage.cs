using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace OptGen;

/// <summary>
/// The per-element state of one tensor: <c>count</c> float32 buffers ("planes") of <c>length</c> elements in one
/// pinned allocation. Each plane starts on a 64-byte boundary, and consecutive planes are staggered within the
/// 4 KiB page (stride ≡ 1088 bytes mod 4096) so that the kernel's streams do not alias each other in the cache.
/// A rule with compact state (<see cref="StateExtents"/>: Adafactor's row and column factors, Adam-mini's per-block
/// second moment) gives each plane its own length and each tensor its own extent in it.
/// </summary>
internal sealed class StateStorage
{
    private const int Alignment = 64;
    private const int AlignmentFloats = Alignment / sizeof(float);
    private const int PageBytes = 4096;
    private const int StaggerBytes = 1088;

    private readonly float[] _buffer;
    private readonly int _offset;
    private readonly long[] _planeStart; // per plane: its first element's index from Base

    public StateStorage(int count, int length, int elementSize = sizeof(float))
        : this(count, length, null, elementSize)
    {
    }

    /// <summary>State whose plane k holds <paramref name="extents"/>' extents of every tensor, one after another.</summary>
    public StateStorage(StateExtents extents, int elementSize)
        : this(extents.Count, 0, extents, elementSize)
    {
    }

    private StateStorage(int count, int length, StateExtents? extents, int elementSize)
    {
        Count = count;
        Length = length;
        ElementSize = elementSize;
        Extents = extents;
        _planeStart = new long[count + 1];
        if (count == 0)
        {
            _buffer = [];
            return;
        }

        // The layout is computed in bytes; the buffer holds floats, so a 2-byte element count is halved (rounded up).
        Stride = extents is null ? StrideFor(length, elementSize) : 0;
        for (int k = 0; k < count; k++)
        {
            _planeStart[k + 1] = _planeStart[k] + (extents is null ? Stride : StrideFor(extents.PlaneLength(k), elementSize));
        }

        long total = (((_planeStart[count] * elementSize) + sizeof(float) - 1) / sizeof(float)) + AlignmentFloats;
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

    /// <summary>Elements per plane (0 when the planes have their own lengths: see <see cref="Extents"/>).</summary>
    public int Length { get; }

    /// <summary>Each plane's extent per tensor, or null when every plane is the layout's state (one element per parameter).</summary>
    public StateExtents? Extents { get; }

    /// <summary>The elements of every plane, without padding.</summary>
    public long TotalLength => Extents?.TotalLength ?? ((long)Count * Length);

    /// <summary>Bytes per stored element: 4 (float32) or 2 (bfloat16).</summary>
    public int ElementSize { get; }

    /// <summary>The distance between planes, in elements (0 when the planes have their own lengths).</summary>
    public int Stride { get; }

    /// <summary>The elements of plane <paramref name="index"/>.</summary>
    public int PlaneLength(int index) => Extents?.PlaneLength(index) ?? Length;

    /// <summary>Where plane <paramref name="index"/> starts, in elements from <see cref="Base"/>.</summary>
    public long PlaneStart(int index) => _planeStart[index];

    /// <summary>Where tensor <paramref name="tensor"/>'s extent starts in plane <paramref name="plane"/>.</summary>
    public int OffsetOf(int plane, int tensor, ParameterLayout layout) => Extents?.OffsetOf(plane, tensor) ?? layout.StateOffsetOf(tensor);

    /// <summary>The elements of tensor <paramref name="tensor"/>'s extent in plane <paramref name="plane"/>.</summary>
    public int LengthOf(int plane, int tensor, ParameterLayout layout) => Extents?.LengthOf(plane, tensor) ?? layout.LengthOf(tensor);

    /// <summary>The elements of every tensor's extent of every plane (what a checkpoint stores: no padding between tensors).</summary>
    public long StoredLength(ParameterLayout layout)
    {
        long total = 0;
        for (int k = 0; k < Count; k++)
        {
            for (int j = 0; j < layout.TensorCount; j++)
            {
                total += LengthOf(k, j, layout);
            }
        }

        return total;
    }

    /// <summary>An empty (zeroed) state of the same shape, with <paramref name="elementSize"/>-byte elements.</summary>
    public StateStorage Like(int elementSize) => new(Count, Length, Extents, elementSize);

    /// <summary>The first element of plane 0.</summary>
    public ref float Base => ref Count == 0 ? ref Unsafe.NullRef<float>() : ref _buffer[_offset];

    /// <summary>Plane <paramref name="index"/>.</summary>
    /// <exception cref="InvalidOperationException">The state is not stored as float32.</exception>
    public Span<float> Plane(int index) => ElementSize == sizeof(float)
        ? _buffer.AsSpan(_offset + (int)_planeStart[index], PlaneLength(index))
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

        long byteOffset = (_planeStart[index] + start) * ElementSize;
        ref byte first = ref Unsafe.AddByteOffset(ref Unsafe.As<float, byte>(ref _buffer[_offset]), (nint)byteOffset);
        return MemoryMarshal.CreateSpan(ref Unsafe.As<byte, T>(ref first), length);
    }

    /// <summary>The bytes of elements [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>) of plane <paramref name="index"/>, as stored.</summary>
    public Span<byte> Bytes(int index, int start, int length) => ElementSize == sizeof(float)
        ? MemoryMarshal.AsBytes(Elements<float>(index, start, length))
        : MemoryMarshal.AsBytes(Elements<ushort>(index, start, length));

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
